import fc from 'fast-check';
import { FAULT_POINTS, type FaultPoint } from '../../lib/core/faults.ts';
import {
  type Kwargs,
  Retry,
  Skip,
  type TaskConfig,
  type TaskContext,
  type TaskHandler,
} from '../../lib/index.ts';

/** The outside triggers generated workflows use. */
export const EXTERNAL_TRIGGERS = ['a', 'b', 'c', 'd', 'e'] as const;

const kwargsArb: fc.Arbitrary<Kwargs> = fc.dictionary(
  fc.constantFrom('x', 'y', 'z', 'nested'),
  fc.oneof(
    fc.integer(),
    fc.string({ maxLength: 4 }),
    fc.boolean(),
    fc.dictionary(fc.constantFrom('p', 'q'), fc.integer(), { maxKeys: 2 }),
  ),
  { maxKeys: 3 },
);

/**
 * Workflows of 1 to 6 tasks, `t0`..`tN`: each `after` is a non-empty set of outside triggers and
 * earlier tasks (so cascades form no cycle), with an optional `andEvery` and `withParams`.
 * `unless` only when asked.
 */
export function workflowArb(opts: { unless: boolean }): fc.Arbitrary<Record<string, TaskConfig>> {
  return fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc
      .tuple(
        ...Array.from({ length: n }, (_, i) => {
          const pool = [...EXTERNAL_TRIGGERS, ...Array.from({ length: i }, (_, j) => `t${j}`)];
          return fc.record({
            after: fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }),
            andEvery: fc.option(fc.constantFrom(...pool), { nil: undefined }),
            unless: opts.unless
              ? fc.option(
                  fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 2 }),
                  {
                    nil: undefined,
                  },
                )
              : fc.constant(undefined),
            withParams: fc.option(
              fc.dictionary(fc.constantFrom(...pool, 'extra'), kwargsArb, { maxKeys: 2 }),
              {
                nil: undefined,
              },
            ),
          });
        }),
      )
      .map((tasks) =>
        Object.fromEntries(
          tasks.map((t, i) => {
            const config: TaskConfig = { after: t.after, run: 'passThru' };
            if (t.andEvery !== undefined) config.andEvery = t.andEvery;
            if (t.unless !== undefined) config.unless = t.unless;
            if (t.withParams !== undefined) config.withParams = t.withParams;
            return [`t${i}`, config];
          }),
        ),
      ),
  );
}

/** Every outside trigger fired once, each with its own kwargs. */
export const fireOnceArb: fc.Arbitrary<Array<{ trigger: string; kwargs: Kwargs }>> = fc
  .tuple(...EXTERNAL_TRIGGERS.map(() => kwargsArb))
  .map((all) => EXTERNAL_TRIGGERS.map((trigger, i) => ({ trigger, kwargs: all[i] as Kwargs })));

/** A sequence of fires of outside triggers, repeats allowed, each with an event id. */
export const fireSequenceArb = fc.array(
  fc.record({ trigger: fc.constantFrom(...EXTERNAL_TRIGGERS), kwargs: kwargsArb }),
  { minLength: 1, maxLength: 12 },
);

/** The handler every generated task runs: it returns its kwargs, so cascades carry them. */
export const handlers: Record<string, TaskHandler> = {
  passThru: (ctx) => ({ kwargs: ctx.kwargs }),
};

// ---------------------------------------------------------------------------------------------
// Distributed property (test/properties/distributed.test.ts and its DynamoDB Local twin):
// workflows whose handlers fail, skip and retry as a pure function of their kwargs, schedules of
// concurrent and duplicated fires, and crash plans.

/**
 * What a generated task's handler does with one instance: each task has a list of steps and an
 * instance takes the step its kwargs hash to, so the outcome is a pure function of the task,
 * the kwargs and the attempt. `retry: k` throws `Retry` while the attempt is below `k`, then
 * finishes (or fails with `MaxRetriesExceeded` first, when `k` passes `maxRetries`); `fire: x`
 * fires trigger `x` through `ctx.fire`, then finishes.
 */
export type BehaviourStep =
  | 'finish'
  | 'fail'
  | 'skip'
  | 'invalid'
  | { retry: number; cooldownSeconds?: number; replace?: boolean }
  | { fire: string };

/** What `decide` tells a handler to do. */
export type Decision =
  | { kind: 'return'; value: unknown; fire?: { trigger: string; kwargs: Kwargs } }
  | { kind: 'throw'; type: string; message: string }
  | { kind: 'skip'; metadata: Kwargs }
  | { kind: 'retry'; cooldownSeconds?: number; replacementKwargs?: Record<string, Kwargs> };

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Kwargs).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** FNV-1a over the canonical JSON of a value, as 8 hex digits. */
export function digest(value: unknown): string {
  let h = 0x811c9dc5;
  for (const ch of canonicalJson(value)) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * The decision of a generated task for one instance: pure, so the oracle and the runtime's
 * handler agree on every outcome without talking to each other.
 */
export function decide(
  task: string,
  steps: readonly BehaviourStep[],
  kwargs: Record<string, Kwargs>,
  attempt: number,
): Decision {
  const h = digest(kwargs);
  const step = steps[Number.parseInt(h, 16) % steps.length] ?? 'finish';
  const finish: Decision = { kind: 'return', value: { by: task, h, attempt } };
  if (step === 'finish') return finish;
  if (step === 'fail') return { kind: 'throw', type: 'BehaviourError', message: `${task} ${h}` };
  if (step === 'skip') return { kind: 'skip', metadata: { skippedBy: task, h } };
  if (step === 'invalid') {
    const shapes: unknown[] = [Number.parseInt(h.slice(0, 4), 16), h, [h], true];
    return { kind: 'return', value: shapes[Number.parseInt(h, 16) % shapes.length] };
  }
  if ('fire' in step) {
    return { ...finish, fire: { trigger: step.fire, kwargs: { firedBy: task, h } } };
  }
  if (attempt >= step.retry) return finish;
  return {
    kind: 'retry',
    ...(step.cooldownSeconds !== undefined ? { cooldownSeconds: step.cooldownSeconds } : {}),
    ...(step.replace ? { replacementKwargs: { replaced: { h, attempt } } } : {}),
  };
}

/** The handler name every generated task runs, and the one observer tasks run. */
export const BEHAVE = 'behave';
export const OBSERVE = 'observe';

/** The steps of a generated task, from its config's custom directive `behaviour`. */
export function behaviourOf(extras: Readonly<Kwargs>): BehaviourStep[] {
  const steps = extras.behaviour;
  return Array.isArray(steps) && steps.length > 0 ? (steps as BehaviourStep[]) : ['finish'];
}

/** `decide` carried out by a task handler: returns, throws `Retry` or `Skip`, or throws. */
export function behaviourHandler(onCall?: (ctx: TaskContext) => void): TaskHandler {
  return async (ctx) => {
    onCall?.(ctx);
    const d = decide(ctx.task, behaviourOf(ctx.extras), ctx.kwargs, ctx.attempt);
    switch (d.kind) {
      case 'return':
        if (d.fire) await ctx.fire(d.fire.trigger, d.fire.kwargs);
        return d.value as Kwargs;
      case 'skip':
        throw new Skip(d.metadata);
      case 'retry':
        throw new Retry({
          ...(d.cooldownSeconds !== undefined ? { cooldownSeconds: d.cooldownSeconds } : {}),
          ...(d.replacementKwargs !== undefined ? { replacementKwargs: d.replacementKwargs } : {}),
        });
      case 'throw': {
        const err = new Error(d.message);
        err.name = d.type;
        throw err;
      }
    }
  };
}

const behaviourStepArb: fc.Arbitrary<BehaviourStep> = fc.oneof(
  { arbitrary: fc.constant('finish' as const), weight: 5 },
  { arbitrary: fc.constantFrom('fail' as const, 'skip' as const, 'invalid' as const), weight: 3 },
  {
    arbitrary: fc.record(
      {
        retry: fc.integer({ min: 1, max: 4 }),
        cooldownSeconds: fc.constantFrom(1, 30, 3600),
        replace: fc.boolean(),
      },
      { requiredKeys: ['retry'] },
    ),
    weight: 3,
  },
  { arbitrary: fc.record({ fire: fc.constantFrom(...EXTERNAL_TRIGGERS) }), weight: 2 },
);

/**
 * The tasks a fire of `trigger` can lead to run: its listeners, theirs through cascades, and so
 * on (`after`, `andEvery` and `unless` all count: an `unless` trigger creates instances too).
 */
function reachableTasks(tasks: Record<string, TaskConfig>, trigger: string): Set<string> {
  const out = new Set<string>();
  const queue = [trigger];
  for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
    for (const [name, c] of Object.entries(tasks)) {
      const mentions = [...c.after, ...(c.unless ?? []), ...(c.andEvery ? [c.andEvery] : [])];
      if (mentions.includes(t) && !out.has(name)) {
        out.add(name);
        queue.push(name);
      }
    }
  }
  return out;
}

/**
 * Workflows of `workflowArb` (with `unless`) whose tasks run `behave`: each gets a list of
 * behaviour steps and sometimes a `maxRetries`. With `observers`, every outside trigger and task
 * name also gets a task `seen_<trigger>` (`andEvery` it, `after: []`), whose instances count the
 * trigger's applied fires: the test session shows instances, not the head's fired counts.
 */
export function behavingWorkflowArb(): fc.Arbitrary<{
  tasks: Record<string, TaskConfig>;
  observers: boolean;
}> {
  return fc.tuple(workflowArb({ unless: true }), fc.boolean()).chain(([tasks, observers]) =>
    fc
      .tuple(
        ...Object.keys(tasks).map(() =>
          fc.record(
            {
              behaviour: fc.array(behaviourStepArb, { minLength: 1, maxLength: 3 }),
              maxRetries: fc.integer({ min: 0, max: 3 }),
            },
            { requiredKeys: ['behaviour'] },
          ),
        ),
      )
      .map((extras) => {
        const out: Record<string, TaskConfig> = {};
        Object.entries(tasks).forEach(([name, config], i) => {
          const x = extras[i] as { behaviour: BehaviourStep[]; maxRetries?: number };
          // A task that fires a trigger leading back to itself would never stop.
          const behaviour = x.behaviour.map((step) =>
            typeof step === 'object' && 'fire' in step && reachableTasks(tasks, step.fire).has(name)
              ? 'finish'
              : step,
          );
          out[name] = {
            ...config,
            run: BEHAVE,
            behaviour,
            ...(x.maxRetries !== undefined ? { maxRetries: x.maxRetries } : {}),
          };
        });
        if (observers) {
          for (const trigger of [...EXTERNAL_TRIGGERS, ...Object.keys(tasks)]) {
            out[`seen_${trigger}`] = { after: [], andEvery: trigger, run: OBSERVE };
          }
        }
        return { tasks: out, observers };
      }),
  );
}

/** One application fire of a schedule. */
export interface ScheduledFire {
  eventId: string;
  trigger: string;
  kwargs: Kwargs;
  /** Milliseconds to wait before sending it, so concurrent fires interleave differently. */
  delayMs: number;
}

/**
 * A schedule: rounds separated by `settle()`, each a sequence of groups sent one after the
 * other (each awaited), the fires of a group sent concurrently.
 */
export type Schedule = ScheduledFire[][][];

const fireKwargsArb: fc.Arbitrary<Kwargs> = fc.oneof(
  fc.constantFrom<Kwargs>({}, { x: 1 }, { x: 2 }, { y: 'b' }, { nested: { p: 1 } }),
  kwargsArb,
);

/**
 * Schedules of `maxFires` events at most: a random subset of the outside triggers, each fired
 * once in a random order (so deep cascades happen), and a few more fires of any of them, plus
 * up to 3 re-fires of an earlier event id (the same payload, as a client retry sends, or another
 * trigger and kwargs: either way a no-op once the first is accepted), cut into groups of at most
 * `maxGroup` concurrent fires and settled rounds.
 */
export function scheduleArb(maxFires = 8, maxGroup = 4): fc.Arbitrary<Schedule> {
  const cutsLength = maxFires + 3;
  return fc
    .record({
      once: fc.shuffledSubarray([...EXTERNAL_TRIGGERS], { minLength: 1 }),
      onceKwargs: fc.array(fireKwargsArb, {
        minLength: EXTERNAL_TRIGGERS.length,
        maxLength: EXTERNAL_TRIGGERS.length,
      }),
      more: fc.array(
        fc.record({
          trigger: fc.constantFrom(...EXTERNAL_TRIGGERS),
          kwargs: fireKwargsArb,
          at: fc.nat(),
        }),
        { maxLength: Math.max(0, maxFires - EXTERNAL_TRIGGERS.length) },
      ),
      duplicates: fc.array(
        fc.record({
          of: fc.nat(),
          after: fc.nat(),
          same: fc.boolean(),
          trigger: fc.constantFrom(...EXTERNAL_TRIGGERS),
          kwargs: fireKwargsArb,
        }),
        { maxLength: 3 },
      ),
      cuts: fc.array(
        fc.oneof(
          { arbitrary: fc.constant('none' as const), weight: 5 },
          { arbitrary: fc.constant('group' as const), weight: 3 },
          { arbitrary: fc.constant('round' as const), weight: 2 },
        ),
        { minLength: cutsLength, maxLength: cutsLength },
      ),
      delays: fc.array(fc.integer({ min: 0, max: 2 }), {
        minLength: cutsLength,
        maxLength: cutsLength,
      }),
    })
    .map(({ once, onceKwargs, more, duplicates, cuts, delays }) => {
      const fires: Array<{ trigger: string; kwargs: Kwargs }> = once.map((trigger, i) => ({
        trigger,
        kwargs: onceKwargs[i] ?? {},
      }));
      for (const m of more) {
        fires.splice(m.at % (fires.length + 1), 0, { trigger: m.trigger, kwargs: m.kwargs });
      }
      const seq: Array<Omit<ScheduledFire, 'delayMs'>> = fires.map((f, i) => ({
        eventId: `ev-${i}`,
        ...f,
      }));
      for (const d of duplicates) {
        const original = seq[d.of % fires.length] as Omit<ScheduledFire, 'delayMs'>;
        const from = seq.indexOf(original) + 1;
        const at = from + (d.after % (seq.length - from + 1));
        seq.splice(
          at,
          0,
          d.same
            ? { ...original }
            : { eventId: original.eventId, trigger: d.trigger, kwargs: d.kwargs },
        );
      }
      const schedule: Schedule = [[[]]];
      seq.forEach((f, i) => {
        const round = schedule[schedule.length - 1] as ScheduledFire[][];
        const group = round[round.length - 1] as ScheduledFire[];
        group.push({ ...f, delayMs: delays[i] ?? 0 });
        const cut = cuts[i] === 'none' && group.length >= maxGroup ? 'group' : (cuts[i] ?? 'none');
        if (i === seq.length - 1 || cut === 'none') return;
        if (cut === 'group') round.push([]);
        else schedule.push([[]]);
      });
      return schedule;
    });
}

/** One planned crash: the `nth` time (from 1) a session reaches `point`, that call crashes. */
export interface PlannedCrash {
  point: FaultPoint;
  nth: number;
}

/** Up to `max` planned crashes, at any of the six points. */
export function crashPlanArb(max = 3): fc.Arbitrary<PlannedCrash[]> {
  return fc.array(
    fc.record({ point: fc.constantFrom(...FAULT_POINTS), nth: fc.integer({ min: 1, max: 4 }) }),
    { maxLength: max },
  );
}
