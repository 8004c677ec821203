/**
 * `explore`: every order (or a seeded sample) of an event list through the memory backend, the
 * distinct outcomes, their smallest orders and counts; duplicates; isolation of runs; input
 * validation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type InstanceStatus,
  type TaskConfig,
  type TaskHandler,
  ValidationError,
  WorkflowError,
} from '../../lib/index.ts';
import {
  createTestRuntime,
  type ExploreEvent,
  type ExploreResult,
  ExploreRunError,
  explore,
} from '../../lib/testing/index.ts';
import {
  EXTERNAL_TRIGGERS,
  handlers as passThruHandlers,
  workflowArb,
} from '../properties/arbitraries.ts';

const work: TaskHandler = async () => ({});
const handlers = { work };

/** `t_x` races `a` against `b`: finished when `a` is applied first, abandoned otherwise. */
const race: Record<string, TaskConfig> = { t_x: { after: ['a'], unless: ['b'], run: 'work' } };

/** No `unless`: the same outcome in any order. */
const join: Record<string, TaskConfig> = {
  t_p: { after: ['a', 'b', 'c'], run: 'work' },
  t_q: { after: ['t_p'], run: 'work' },
};

const ev = (...triggers: string[]): ExploreEvent[] => triggers.map((trigger) => ({ trigger }));

/**
 * Replays an order given as `explore` labels (documented format: the trigger, `#k` for the k-th
 * occurrence of a repeated trigger, ` (dup)` for a duplicate) with a settle after every fire.
 */
async function replay(
  workflow: Record<string, TaskConfig>,
  runHandlers: Record<string, TaskHandler>,
  events: ExploreEvent[],
  order: string[],
): Promise<Record<string, InstanceStatus>> {
  const byLabel = new Map<string, number>();
  events.forEach((e, i) => {
    const occurrences = events.filter((x) => x.trigger === e.trigger);
    const k = events.slice(0, i + 1).filter((x) => x.trigger === e.trigger).length;
    byLabel.set(occurrences.length > 1 ? `${e.trigger}#${k}` : e.trigger, i);
  });
  const rt = await createTestRuntime({ workflow, handlers: runHandlers });
  try {
    const s = rt.session('replay');
    for (const label of order) {
      const i = byLabel.get(label.replace(/ \(dup\)$/, '')) as number;
      const e = events[i] as ExploreEvent;
      await s.fire(e.trigger, e.kwargs, { eventId: `replay-${i}` });
      await rt.settle();
    }
    return Object.fromEntries((await s.instances()).map((i) => [i.name, i.status]));
  } finally {
    await rt.close();
  }
}

function countSum(result: ExploreResult): number {
  return result.outcomes.reduce((sum, o) => sum + o.count, 0);
}

describe('explore', () => {
  it('finds both sides of an unless race, each with its smallest order', async () => {
    const result = await explore({ workflow: race, handlers, events: ev('a', 'b') });

    expect(result).toEqual({
      outcomes: [
        { statuses: { 't_x#0': 'finished' }, order: ['a', 'b'], count: 1 },
        { statuses: { 't_x#0': 'abandoned' }, order: ['b', 'a'], count: 1 },
      ],
      runs: 2,
      totalOrders: 2,
      exhaustive: true,
    });
  });

  it('finds one outcome, produced by every order, when nothing races', async () => {
    const result = await explore({ workflow: join, handlers, events: ev('a', 'b', 'c') });

    expect(result.outcomes).toEqual([
      {
        statuses: { 't_p#0': 'finished', 't_q#0': 'finished' },
        order: ['a', 'b', 'c'],
        count: 6,
      },
    ]);
    expect(result).toMatchObject({ runs: 6, totalOrders: 6, exhaustive: true });
  });

  it('adds no outcome with duplicates for a workflow without races', async () => {
    const result = await explore({
      workflow: join,
      handlers,
      events: ev('a', 'b', 'c'),
      duplicates: true,
    });

    expect(result).toMatchObject({ runs: 90, totalOrders: 90, exhaustive: true });
    expect(result.outcomes).toEqual([
      {
        statuses: { 't_p#0': 'finished', 't_q#0': 'finished' },
        order: ['a', 'a (dup)', 'b', 'b (dup)', 'c', 'c (dup)'],
        count: 90,
      },
    ]);
  });

  it('finds the same outcomes of a race with duplicates as without', async () => {
    const result = await explore({
      workflow: race,
      handlers,
      events: ev('a', 'b'),
      duplicates: true,
    });

    // a a' b b', a b a' b', a b b' a', b a a' b', b a b' a', b b' a a'
    expect(result.outcomes).toEqual([
      { statuses: { 't_x#0': 'finished' }, order: ['a', 'a (dup)', 'b', 'b (dup)'], count: 3 },
      { statuses: { 't_x#0': 'abandoned' }, order: ['b', 'a', 'a (dup)', 'b (dup)'], count: 3 },
    ]);
  });

  it('labels a repeated trigger by occurrence and prefers the order closest to the list', async () => {
    const workflow: Record<string, TaskConfig> = {
      t_page: { after: [], andEvery: 'page', unless: ['closed'], run: 'work' },
    };
    const events = [
      { trigger: 'page', kwargs: { n: 1 } },
      { trigger: 'closed' },
      { trigger: 'page', kwargs: { n: 2 } },
    ];

    const result = await explore({ workflow, handlers, events });

    expect(result.outcomes).toEqual([
      {
        statuses: { 't_page#0': 'finished', 't_page#1': 'abandoned' },
        order: ['page#1', 'closed', 'page#2'],
        count: 2,
      },
      {
        statuses: { 't_page#0': 'finished', 't_page#1': 'finished' },
        order: ['page#1', 'page#2', 'closed'],
        count: 2,
      },
      {
        // `closed` first creates t_page#0 (abandoned at once); each page then gets its own.
        statuses: { 't_page#0': 'abandoned', 't_page#1': 'abandoned', 't_page#2': 'abandoned' },
        order: ['closed', 'page#1', 'page#2'],
        count: 2,
      },
    ]);
  });

  it('reports orders that reproduce their outcome when replayed with a settle after each fire', async () => {
    const workflow: Record<string, TaskConfig> = {
      t_x: { after: ['a'], unless: ['b'], run: 'work' },
      t_y: { after: ['t_x', 'c'], unless: ['d'], run: 'work' },
    };
    const events = ev('a', 'b', 'c', 'd');

    const result = await explore({ workflow, handlers, events, duplicates: true });

    expect(result.outcomes.length).toBeGreaterThan(2);
    for (const outcome of result.outcomes) {
      expect(await replay(workflow, handlers, events, outcome.order)).toEqual(outcome.statuses);
    }
  });

  it('runs each order in its own session, one run at a time, each handler once per run', async () => {
    const calls: string[] = [];
    let running = 0;
    let overlapped = false;
    const slow: TaskHandler = async (ctx) => {
      running += 1;
      if (running > 1) overlapped = true;
      calls.push(ctx.sessionId);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running -= 1;
      return {};
    };

    const result = await explore({
      workflow: join,
      handlers: { work: slow },
      events: ev('a', 'b', 'c'),
      duplicates: true,
    });

    // t_p and t_q once per run, duplicates never running a handler twice.
    expect(calls).toHaveLength(2 * result.runs);
    expect(new Set(calls).size).toBe(result.runs);
    expect(overlapped).toBe(false);
  });

  it('keeps a handler that mutates its kwargs from changing later runs', async () => {
    const mutating: TaskHandler = (ctx) => {
      const a = ctx.kwargs.a as { n: number };
      if (a.n !== 1) throw new Error(`saw n = ${a.n}: an earlier run leaked`);
      a.n += 1;
      return { seen: a.n };
    };
    const workflow: Record<string, TaskConfig> = {
      t_m: { after: ['a'], run: 'mutating' },
      t_n: { after: ['t_m', 'b'], unless: ['stop'], run: 'work' },
    };
    const events = [{ trigger: 'a', kwargs: { n: 1 } }, { trigger: 'b' }];

    const result = await explore({ workflow, handlers: { mutating, work }, events });

    expect(events[0]?.kwargs).toEqual({ n: 1 });
    expect(result.outcomes).toEqual([
      { statuses: { 't_m#0': 'finished', 't_n#0': 'finished' }, order: ['a', 'b'], count: 2 },
    ]);
  });
});

describe('what explore does not explore (docs/explore.md)', () => {
  it('does not show an event landing between an earlier event and its cascade', async () => {
    const workflow: Record<string, TaskConfig> = {
      t_x: { after: ['a'], run: 'work' },
      t_y: { after: ['t_x'], unless: ['b'], run: 'work' },
      t_z: { after: ['a'], unless: ['b'], run: 'work' },
    };
    const slow: TaskHandler = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return {};
    };

    const result = await explore({ workflow, handlers: { work: slow }, events: ev('a', 'b') });
    const rt = await createTestRuntime({ workflow, handlers: { work: slow } });
    const s = rt.session('between');
    await s.fire('a');
    await s.fire('b'); // while t_x runs: before its cascade
    await rt.settle();
    const between = Object.fromEntries((await s.instances()).map((i) => [i.name, i.status]));
    await rt.close();

    expect(between).toEqual({ 't_x#0': 'finished', 't_y#0': 'abandoned', 't_z#0': 'finished' });
    expect(result.outcomes.map((o) => o.statuses)).toEqual([
      { 't_x#0': 'finished', 't_y#0': 'finished', 't_z#0': 'finished' },
      { 't_x#0': 'finished', 't_y#0': 'abandoned', 't_z#0': 'abandoned' },
    ]);
  });
});

describe('explore with more orders than runs', () => {
  /** One task per trigger, so a handler log of each session is the order that session ran. */
  const logged = (log: Map<string, string[]>): Record<string, TaskHandler> => ({
    work: (ctx) => {
      log.set(ctx.sessionId, [...(log.get(ctx.sessionId) ?? []), ctx.task.slice(2)]);
      return {};
    },
  });
  const perTrigger: Record<string, TaskConfig> = Object.fromEntries(
    ['a', 'b', 'c', 'd', 'e'].map((t) => [`t_${t}`, { after: [t], run: 'work' }]),
  );
  const events = ev('a', 'b', 'c', 'd', 'e');

  it('runs the list as written and then distinct sampled orders, as many as runs', async () => {
    const log = new Map<string, string[]>();

    const result = await explore({ workflow: perTrigger, handlers: logged(log), events, runs: 20 });

    expect(result).toMatchObject({ runs: 20, totalOrders: 120, exhaustive: false, seed: 1 });
    expect(countSum(result)).toBe(20);
    const orders = [...log.values()].map((o) => o.join(''));
    expect(orders).toHaveLength(20);
    expect(orders[0]).toBe('abcde');
    expect(new Set(orders).size).toBe(20);
  });

  it('samples the same orders for the same seed and other orders for another seed', async () => {
    const sample = async (seed: number) => {
      const log = new Map<string, string[]>();
      const result = await explore({
        workflow: perTrigger,
        handlers: logged(log),
        events,
        runs: 15,
        seed,
      });
      return { result, orders: [...log.values()].map((o) => o.join('')) };
    };

    const first = await sample(7);
    const again = await sample(7);
    const other = await sample(8);

    expect(again).toEqual(first);
    expect(other.orders).not.toEqual(first.orders);
    expect(other.orders[0]).toBe('abcde');
  });

  it('runs only the list as written with runs: 1', async () => {
    const result = await explore({ workflow: race, handlers, events: ev('b', 'a'), runs: 1 });

    expect(result).toEqual({
      outcomes: [{ statuses: { 't_x#0': 'abandoned' }, order: ['b', 'a'], count: 1 }],
      runs: 1,
      totalOrders: 2,
      exhaustive: false,
      seed: 1,
    });
  });
});

describe('explore properties', () => {
  const raceWorkflow: Record<string, TaskConfig> = {
    t_x: { after: ['a'], unless: ['b'], run: 'work' },
    t_y: { after: ['c'], andEvery: 'a', run: 'work' },
  };

  it('counts runs exactly: every order when few enough, else runs; counts sum to runs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 30 }),
        fc.nat({ max: 1000 }),
        async (triggers, duplicates, runs, seed) => {
          const events = ev(...triggers);
          const result = await explore({
            workflow: raceWorkflow,
            handlers,
            events,
            duplicates,
            runs,
            seed,
          });

          const n = triggers.length;
          let total = 1;
          for (let k = 2; k <= (duplicates ? 2 * n : n); k++) total *= k;
          if (duplicates) total /= 2 ** n;
          expect(result.totalOrders).toBe(total);
          expect(result.runs).toBe(Math.min(total, runs));
          expect(result.exhaustive).toBe(total <= runs);
          expect(countSum(result)).toBe(result.runs);
          const keys = result.outcomes.map((o) => JSON.stringify(o.statuses));
          expect(new Set(keys).size).toBe(keys.length);
          for (const o of result.outcomes) {
            expect(o.order).toHaveLength(duplicates ? 2 * n : n);
            expect(o.order.filter((l) => l.endsWith(' (dup)'))).toHaveLength(duplicates ? n : 0);
          }
          // The list as written always runs, and its outcome comes first.
          const written = await explore({ workflow: raceWorkflow, handlers, events, runs: 1 });
          expect(result.outcomes[0]?.statuses).toEqual(written.outcomes[0]?.statuses);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('finds exactly one outcome for workflows without unless, each trigger fired once', async () => {
    await fc.assert(
      fc.asyncProperty(
        workflowArb({ unless: false }),
        fc.shuffledSubarray([...EXTERNAL_TRIGGERS], { minLength: 1, maxLength: 3 }),
        async (workflow, candidates) => {
          const used = new Set(Object.values(workflow).flatMap((t) => [...t.after, t.andEvery]));
          const triggers = candidates.filter((t) => used.has(t));
          fc.pre(triggers.length > 0);
          const events = triggers.map((trigger, i) => ({ trigger, kwargs: { i } }));

          const result = await explore({ workflow, handlers: passThruHandlers, events });

          expect(result.outcomes).toHaveLength(1);
          expect(result.outcomes[0]?.count).toBe(result.totalOrders);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('explore refuses bad input', () => {
  const base = { workflow: race, handlers, events: ev('a', 'b') };

  it('refuses an empty event list', async () => {
    await expect(explore({ ...base, events: [] })).rejects.toThrow(
      new ValidationError("'events' must hold at least one event"),
    );
  });

  it('refuses a trigger name of the wrong format, naming the event', async () => {
    await expect(explore({ ...base, events: ev('a', 'bad name!') })).rejects.toThrow(
      /'events\.1\.trigger' must match/,
    );
    await expect(explore({ ...base, events: ev('t#0') })).rejects.toBeInstanceOf(ValidationError);
  });

  it('refuses a trigger no task listens to', async () => {
    await expect(explore({ ...base, events: ev('a', 'stpe1') })).rejects.toThrow(
      /'events\.1\.trigger': workflow 'default' has no task that listens to 'stpe1'/,
    );
  });

  it('refuses kwargs that are not a JSON object, and unknown event fields', async () => {
    const notObject = [{ trigger: 'a', kwargs: [1] as unknown as Record<string, unknown> }];
    await expect(explore({ ...base, events: notObject })).rejects.toThrow(
      /'events\.0\.kwargs' must be a JSON object/,
    );
    const withId = [{ trigger: 'a', eventId: 'x' } as ExploreEvent];
    await expect(explore({ ...base, events: withId })).rejects.toThrow(
      /unknown field\(s\): eventId/,
    );
    const withFunction = [{ trigger: 'a', kwargs: { f: () => 1 } }];
    await expect(explore({ ...base, events: withFunction })).rejects.toThrow(
      /'events\.0\.kwargs' must be plain JSON data/,
    );
  });

  it('refuses more than 64 events', async () => {
    await expect(
      explore({ ...base, events: ev(...Array.from({ length: 65 }, () => 'a')) }),
    ).rejects.toThrow(/at most 64 events/);
  });

  it('refuses runs below 1 or not whole, and a seed out of range', async () => {
    await expect(explore({ ...base, runs: 0 })).rejects.toThrow(
      new ValidationError("'runs' must be at least 1"),
    );
    await expect(explore({ ...base, runs: 1.5 })).rejects.toThrow(/'runs' must be a whole number/);
    await expect(explore({ ...base, seed: -1 })).rejects.toThrow(/'seed' must be from 0/);
    await expect(explore({ ...base, seed: 2 ** 32 })).rejects.toBeInstanceOf(ValidationError);
    await expect(explore({ ...base, duplicates: 'yes' as unknown as boolean })).rejects.toThrow(
      /'duplicates' must be a boolean/,
    );
  });

  it('refuses a bad workflow or a missing handler with WorkflowError', async () => {
    await expect(
      explore({ ...base, workflow: { t_x: { after: ['t_x'], run: 'work' } } }),
    ).rejects.toBeInstanceOf(WorkflowError);
    await expect(explore({ ...base, handlers: {} })).rejects.toThrow(
      /task 't_x' runs 'work', but no task handler of that name is registered/,
    );
  });

  it('refuses a handler that is not a function', async () => {
    await expect(
      explore({ ...base, handlers: { work: 'nope' as unknown as TaskHandler } }),
    ).rejects.toThrow(new ValidationError("handler 'work' must be a function"));
  });

  it('fails with ExploreRunError naming the order when a run cannot settle', async () => {
    const hang: TaskHandler = () => new Promise(() => {});

    const failure = await explore({
      ...base,
      handlers: { work: hang },
      settleTimeoutMs: 50,
    }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(ExploreRunError);
    expect((failure as ExploreRunError).order).toEqual(['a', 'b']);
    expect((failure as ExploreRunError).message).toMatch(/^run 1 \(order: a, b\) failed: settle/);
  });
});
