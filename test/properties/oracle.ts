/**
 * The oracle of the distributed property: every final session the engine allows for a workflow
 * and a schedule of fires, computed from `lib/engine` alone.
 *
 * The shared semantics let fires that are in flight at the same time be applied in any order,
 * and a cascade (or a retry's clone request) is in flight from the moment its instance is
 * scheduled until it is applied. Order shows only through the order-dependent rules (`unless`
 * against `after`, which kwargs were latest when an instance was created, which fire of a
 * trigger an instance took) and through instance numbers. So the oracle does not pick one order:
 * it applies the events one by one in every order the schedule allows (a depth-first search),
 * running the same pure handler decision for each scheduled instance and applying its outcome,
 * cascade and clone as the engine dictates, and collects the set of final sessions. A runtime
 * passes when its final session is one of them.
 *
 * "In flight at the same time" is read from the schedule: the fires of one group are sent
 * together; a group is sent once every fire of the one before was accepted; a round starts once
 * the runtime settled (everything of the rounds before, cascades included, applied). A cascade,
 * a handler's `ctx.fire` or a clone request is in flight from its instance's scheduling until it
 * is applied, and may be applied before or after any fire still to come in its round.
 *
 * Final sessions are compared without instance numbers (numbers follow creation order, which is
 * one of the order-dependent things): per task, the multiset of instances with their status,
 * kwargs, attempt, result, error, metadata and parent. The numbering itself is checked apart
 * (`checkNumbering`).
 *
 * Two reductions keep the search small; `allowedOutcomes(..., { reductions: false })` turns them
 * off and a test checks they never change the set of outcomes:
 * - States that differ only in instance numbers, in event ids whose kwargs are equal, or in
 *   latest kwargs no task can read have the same futures: each such class is visited once.
 * - Partial-order reduction: an event that changes no task that any other event of the round
 *   (in flight, still to be sent, or anything either can cascade or fire into) can change
 *   commutes with all of them, so it is taken first and alone. A clone request commutes with
 *   everything (up to instance numbers), and so does a fire for a task that only counts that
 *   trigger (`andEvery` it, nothing else).
 */
import { createHash } from 'node:crypto';
import {
  type CloneEvent,
  type CompiledWorkflow,
  decideOutcome,
  type Effect,
  type HandlerOutcome,
  handlerKwargs,
  type InstanceSeed,
  initialState,
  internalEventId,
  apply as reduce,
  type SessionEvent,
  type SessionState,
} from '../../lib/engine/index.ts';
import type { InstanceStatus, Kwargs, TaskInstance } from '../../lib/index.ts';
import {
  behaviourOf,
  canonicalJson,
  type Decision,
  decide,
  type Schedule,
  type ScheduledFire,
} from './arbitraries.ts';

/** One instance of a final session, without its number. */
export interface InstanceOutcome {
  task: string;
  status: InstanceStatus;
  attempt: number;
  kwargs: Record<string, Kwargs>;
  result?: Kwargs;
  /** Type and message; the message with the instance's own name replaced by `<instance>`. */
  error?: { type: string; message: string };
  metadata?: Kwargs;
  /** The canonical text of the parent's outcome (for clones). */
  parent?: string;
}

/** A final session, comparable across runs whatever the order was. */
export interface SessionOutcome {
  /** Canonical instance outcomes, sorted. */
  instances: string[];
  unresolvedTasks: string[];
}

/**
 * Where the search gives up. Generated cases need a few hundred states at the 99.9th percentile;
 * about one in 10,000 has an order space far larger (thousands of distinct outcomes).
 */
export const SEARCH_BUDGET = 30_000;

/** The search met more distinct states than its budget. */
export class SearchBudgetError extends Error {
  override name = 'SearchBudgetError';
}

const AT = '2026-01-01T00:00:00.000Z';
const RESOLVED: readonly InstanceStatus[] = ['finished', 'abandoned', 'replayed', 'skipped'];

interface OracleRecord {
  name: string;
  task: string;
  status: InstanceStatus;
  attempt: number;
  kwargs: Record<string, Kwargs>;
  parent?: string;
  result?: Kwargs;
  error?: { type: string; message: string };
  metadata?: Kwargs;
}

/** An event in flight: a cascade, a handler's `ctx.fire`, or a retry's clone request. */
type Pending =
  | { type: 'fire'; eventId: string; trigger: string; kwargs: Kwargs }
  | { type: 'clone'; event: CloneEvent };

interface Node {
  state: SessionState;
  records: Map<string, OracleRecord>;
  /** Kwargs of every accepted fire (application fires and cascades), by event id. */
  contents: Map<string, Kwargs>;
  /** Application event ids accepted so far. */
  accepted: Set<string>;
  pending: Pending[];
  round: number;
  group: number;
  /** Indexes of the current group's fires not accepted yet. */
  remaining: number[];
}

/** The outcome a handler decision stands for, as the task runner would classify it. */
function toHandlerOutcome(d: Decision): HandlerOutcome {
  switch (d.kind) {
    case 'return':
      return { kind: 'returned', value: d.value };
    case 'throw':
      return { kind: 'threw', error: { type: d.type, message: d.message } };
    case 'skip':
      return { kind: 'skip', metadata: d.metadata };
    case 'retry':
      return {
        kind: 'retry',
        ...(d.cooldownSeconds !== undefined ? { cooldownSeconds: d.cooldownSeconds } : {}),
        ...(d.replacementKwargs !== undefined ? { replacementKwargs: d.replacementKwargs } : {}),
      };
  }
}

/** The decision of an instance's handler: observer tasks (`observe`) return `{}`. */
function handlerDecision(
  wf: CompiledWorkflow,
  task: string,
  kwargs: Record<string, Kwargs>,
  attempt: number,
): Decision {
  const t = wf.tasks.get(task);
  if (!t) throw new Error(`oracle: unknown task ${task}`);
  if (t.run !== 'behave') return { kind: 'return', value: {} };
  return decide(task, behaviourOf(t.extras), handlerKwargs(t.withParams, kwargs), attempt);
}

/** An error message made independent of the instance's number. */
export function normalizeMessage(message: string, instance: string): string {
  return message.split(`'${instance}'`).join("'<instance>'");
}

function copyNode(n: Node): Node {
  return {
    state: n.state,
    records: new Map(n.records),
    contents: new Map(n.contents),
    accepted: new Set(n.accepted),
    pending: [...n.pending],
    round: n.round,
    group: n.group,
    remaining: [...n.remaining],
  };
}

function kwargsOfSeed(n: Node, seed: InstanceSeed): Record<string, Kwargs> {
  const k = seed.kwargs;
  if ('refs' in k) {
    const out: Record<string, Kwargs> = {};
    for (const [trigger, id] of Object.entries(k.refs)) out[trigger] = n.contents.get(id) ?? {};
    return out;
  }
  if ('inherit' in k) return n.records.get(k.inherit)?.kwargs ?? {};
  return k.literal;
}

/** Applies one event and everything the engine says follows at once; mutates `n`. */
function applyEvent(wf: CompiledWorkflow, n: Node, event: SessionEvent): void {
  const { state, effects } = reduce(wf, n.state, event);
  n.state = state;
  for (const effect of effects) applyEffect(wf, n, effect);
}

function applyEffect(wf: CompiledWorkflow, n: Node, effect: Effect): void {
  switch (effect.type) {
    case 'create':
    case 'reject':
      return;
    case 'abandon': {
      const seed = effect.instance;
      n.records.set(seed.name, {
        name: seed.name,
        task: seed.task,
        status: 'abandoned',
        attempt: seed.attempt,
        kwargs: kwargsOfSeed(n, seed),
        ...(seed.parent !== undefined ? { parent: seed.parent } : {}),
      });
      return;
    }
    case 'schedule': {
      // A scheduled instance is never abandoned and its handler is pure: its outcome is known
      // now. Only when its cascade or clone request is applied depends on the order.
      const seed = effect.instance;
      const kwargs = kwargsOfSeed(n, seed);
      n.records.set(seed.name, {
        name: seed.name,
        task: seed.task,
        status: 'running',
        attempt: seed.attempt,
        kwargs,
        ...(seed.parent !== undefined ? { parent: seed.parent } : {}),
      });
      const decision = handlerDecision(wf, seed.task, kwargs, seed.attempt);
      if (decision.kind === 'return' && decision.fire && wf.listeners.has(decision.fire.trigger)) {
        // The id the task runner gives the first `ctx.fire` of an instance.
        n.pending.push({
          type: 'fire',
          eventId: internalEventId('fire', seed.name, 1),
          ...decision.fire,
        });
      }
      const outcome = toHandlerOutcome(decision);
      for (const e of decideOutcome(wf, {
        type: 'outcome',
        instance: seed.name,
        task: seed.task,
        attempt: seed.attempt,
        outcome,
        at: AT,
      })) {
        applyEffect(wf, n, e);
      }
      return;
    }
    case 'record': {
      const r = n.records.get(effect.instance);
      if (!r) throw new Error(`oracle: record for unknown instance ${effect.instance}`);
      const next: OracleRecord = { ...r, status: effect.status };
      if (effect.result !== undefined) next.result = effect.result;
      if (effect.error !== undefined) {
        next.error = {
          type: effect.error.type,
          message: normalizeMessage(effect.error.message, r.name),
        };
      }
      if (effect.metadata !== undefined) next.metadata = effect.metadata;
      n.records.set(r.name, next);
      return;
    }
    case 'cascade':
      // A trigger nothing listens to changes nothing, whenever it is applied.
      if (wf.listeners.has(effect.trigger)) {
        n.pending.push({
          type: 'fire',
          eventId: effect.eventId,
          trigger: effect.trigger,
          kwargs: effect.kwargs,
        });
      }
      return;
    case 'retry':
      n.pending.push({ type: 'clone', event: effect.event });
      return;
  }
}

/** Records are replaced, never changed, once written: their canonical text can be kept. */
const described = new WeakMap<OracleRecord, string>();

/** Canonical text of each record's outcome, parents first (a clone's attempt is its parent's + 1). */
function describeRecords(n: Node): Map<string, string> {
  const out = new Map<string, string>();
  const describe = (r: OracleRecord): string => {
    const known = out.get(r.name) ?? described.get(r);
    if (known !== undefined) {
      out.set(r.name, known);
      return known;
    }
    const parent = r.parent !== undefined ? n.records.get(r.parent) : undefined;
    const o: InstanceOutcome = {
      task: r.task,
      status: r.status,
      attempt: r.attempt,
      kwargs: r.kwargs,
      ...(r.result !== undefined ? { result: r.result } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
      ...(r.metadata !== undefined ? { metadata: r.metadata } : {}),
      ...(parent ? { parent: describe(parent) } : {}),
    };
    const text = canonicalJson(o);
    out.set(r.name, text);
    described.set(r, text);
    return text;
  };
  for (const r of n.records.values()) describe(r);
  return out;
}

function unstartedOutcomes(n: Node): string[] {
  const out: string[] = [];
  for (const [task, list] of Object.entries(n.state.unstarted)) {
    for (const inst of list) {
      const kwargs: Record<string, Kwargs> = {};
      for (const [trigger, id] of Object.entries(inst.kwargs)) {
        kwargs[trigger] = n.contents.get(id) ?? {};
      }
      out.push(canonicalJson({ task, status: 'unstarted', attempt: 0, kwargs }));
    }
  }
  return out;
}

function outcomeOf(wf: CompiledWorkflow, n: Node): SessionOutcome {
  const instances = [...describeRecords(n).values(), ...unstartedOutcomes(n)].sort();
  const unresolvedTasks = new Set<string>();
  for (const r of n.records.values()) if (!RESOLVED.includes(r.status)) unresolvedTasks.add(r.task);
  for (const task of Object.keys(n.state.unstarted)) unresolvedTasks.add(task);
  for (const task of wf.tasks.keys())
    if ((n.state.next[task] ?? 0) === 0) unresolvedTasks.add(task);
  return { instances, unresolvedTasks: [...unresolvedTasks].sort() };
}

/**
 * A key equal for states with the same futures (up to instance numbers and event ids). The
 * latest kwargs of a trigger are part of it only when some task can still read them.
 */
function stateKey(n: Node, readsLatest: (trigger: string) => boolean): string {
  const records = describeRecords(n);
  const content = (id: string) => canonicalJson(n.contents.get(id) ?? {});
  const fired = Object.entries(n.state.fired)
    .map(([t, f]) => (readsLatest(t) ? [t, f.count, content(f.last)] : [t, f.count]))
    .sort();
  const unstarted = Object.entries(n.state.unstarted)
    .map(([task, list]) => [
      task,
      list
        .map((i) =>
          canonicalJson({
            kwargs: Object.fromEntries(Object.entries(i.kwargs).map(([t, id]) => [t, content(id)])),
            abandon: [...i.abandon].sort(),
          }),
        )
        .sort(),
    ])
    .sort();
  const pending = n.pending
    .map((p) =>
      p.type === 'fire'
        ? canonicalJson(['fire', p.trigger, p.kwargs])
        : canonicalJson([
            'clone',
            p.event.task,
            p.event.parentAttempt,
            records.get(p.event.parent) ?? '',
            p.event.kwargs ?? null,
          ]),
    )
    .sort();
  return canonicalJson([
    n.round,
    n.group,
    n.remaining,
    [...n.accepted].sort(),
    fired,
    Object.entries(n.state.next).sort(),
    unstarted,
    [...records.values()].sort(),
    pending,
  ]);
}

/** Options of `allowedOutcomes`. */
export interface SearchOptions {
  /** Distinct states after which the search gives up. @default SEARCH_BUDGET */
  budget?: number;
  /**
   * Merge states equal up to instance numbers and event ids, and take an event that commutes
   * with every other first (partial-order reduction). Off, the search visits every interleaving
   * up to exact state equality: slow, for checking the reductions. @default true
   */
  reductions?: boolean;
}

/** The whole state, instance numbers and event ids included. */
function exactKey(n: Node): string {
  return JSON.stringify([
    n.round,
    n.group,
    n.remaining,
    [...n.accepted].sort(),
    n.state,
    [...n.records.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
    n.pending,
    [...n.contents.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
  ]);
}

/**
 * Every final session the engine allows for `schedule` (rounds separated by `settle()`, groups
 * sent one after the other, fires within a group concurrently), with its number of distinct
 * states visited.
 *
 * @example
 * const { outcomes } = allowedOutcomes(compileWorkflow(workflow), schedule);
 */
export function allowedOutcomes(
  wf: CompiledWorkflow,
  schedule: Schedule,
  opts: SearchOptions = {},
): { outcomes: Map<string, SessionOutcome>; states: number } {
  const budget = opts.budget ?? SEARCH_BUDGET;
  const reductions = opts.reductions ?? true;
  const outcomes = new Map<string, SessionOutcome>();
  const visited = new Set<string>();
  const reachable = new Map<string, ReadonlySet<string>>();
  /**
   * A task that only counts fires of `trigger` (`andEvery` it, nothing else in `after`, no
   * `unless`): each fire gets a new instance with that fire's kwargs, scheduled at once, so two
   * fires change it the same way in either order, up to instance numbers.
   */
  const counts = (
    task: { after: readonly string[]; andEvery?: string; unless: readonly string[] },
    trigger: string,
  ) =>
    task.andEvery === trigger && task.unless.length === 0 && task.after.every((t) => t === trigger);
  /** Whether a task can read the latest kwargs of `trigger` (creating an instance by another). */
  const readsLatest = (trigger: string): boolean =>
    (wf.listeners.get(trigger) ?? []).some(
      (t) => !counts(t, trigger) && t.requires.includes(trigger),
    );
  /** The triggers a task's instances can fire: its cascade and its handler's `ctx.fire`s. */
  const firedBy = (task: string): string[] => {
    const t = wf.tasks.get(task);
    const fires = t
      ? behaviourOf(t.extras).flatMap((s) => (typeof s === 'object' && 'fire' in s ? [s.fire] : []))
      : [];
    return [task, ...fires];
  };
  /**
   * Tasks a fire of `trigger` (or a clone of task `trigger`) can change: its listeners, and
   * theirs through every trigger their instances fire, transitively.
   */
  const reach = (trigger: string, clone: boolean): ReadonlySet<string> => {
    const key = `${clone ? 'clone' : 'fire'}:${trigger}`;
    const known = reachable.get(key);
    if (known) return known;
    const out = new Set<string>(clone ? [trigger] : []);
    const queue = clone ? firedBy(trigger) : [trigger];
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      for (const task of wf.listeners.get(t) ?? []) {
        if (!out.has(task.name)) {
          out.add(task.name);
          queue.push(...firedBy(task.name));
        }
      }
    }
    reachable.set(key, out);
    return out;
  };

  const fireAt = (n: Node, i: number) => schedule[n.round]?.[n.group]?.[i];

  /** Moves on when nothing of the current group is left; rounds also wait for cascades. */
  const normalize = (n: Node): void => {
    for (;;) {
      // A fire whose id was accepted before is a no-op whenever it comes: take it now.
      n.remaining = n.remaining.filter((i) => !n.accepted.has(fireAt(n, i)?.eventId ?? ''));
      if (n.remaining.length > 0) return;
      const round = schedule[n.round];
      if (!round) return;
      if (n.group + 1 < round.length) {
        n.group += 1;
      } else if (n.pending.length === 0 && n.round + 1 < schedule.length) {
        n.round += 1;
        n.group = 0;
      } else {
        return;
      }
      n.remaining = (schedule[n.round]?.[n.group] ?? []).map((_, i) => i);
    }
  };

  const visit = (n: Node): void => {
    normalize(n);
    // A digest, not the text: a large search keeps ~100 bytes per state, not kilobytes.
    const key = createHash('sha1')
      .update(reductions ? stateKey(n, readsLatest) : exactKey(n))
      .digest('base64');
    if (visited.has(key)) return;
    visited.add(key);
    if (visited.size > budget) {
      throw new SearchBudgetError(`the oracle met more than ${budget} distinct states`);
    }
    if (n.remaining.length === 0 && n.pending.length === 0) {
      const outcome = outcomeOf(wf, n);
      outcomes.set(canonicalJson(outcome), outcome);
      return;
    }
    for (const move of nextMoves(n)) {
      const next = copyNode(n);
      if (move.kind === 'fire') {
        const f = move.fire;
        next.remaining = next.remaining.filter((j) => j !== move.index);
        next.accepted.add(f.eventId);
        next.contents.set(f.eventId, f.kwargs);
        applyEvent(wf, next, { type: 'fire', eventId: f.eventId, trigger: f.trigger, at: AT });
      } else {
        const p = move.pending;
        next.pending.splice(move.index, 1);
        if (p.type === 'fire') {
          next.contents.set(p.eventId, p.kwargs);
          applyEvent(wf, next, { type: 'fire', eventId: p.eventId, trigger: p.trigger, at: AT });
        } else {
          applyEvent(wf, next, p.event);
        }
      }
      visit(next);
    }
  };

  type Move =
    | { kind: 'fire'; index: number; fire: ScheduledFire }
    | { kind: 'pending'; index: number; pending: Pending };

  /** The tasks a fire changes when applied: its trigger's listeners, but those that only count it. */
  const firedTouches = (trigger: string): string[] =>
    (wf.listeners.get(trigger) ?? []).filter((t) => !counts(t, trigger)).map((t) => t.name);

  /** The tasks an event changes when applied. */
  //
  // A clone only takes its task's next number and schedules an instance whose outcome is fixed
  // (its kwargs are its parent's or its own): swapped with any other event, the states differ
  // by instance numbers alone, which the state key ignores. So it changes nothing here.
  const touches = (m: Move): readonly string[] =>
    m.kind === 'pending' && m.pending.type === 'clone'
      ? []
      : firedTouches(
          m.kind === 'fire' ? m.fire.trigger : (m.pending as { trigger: string }).trigger,
        );

  /** The tasks an event and everything it can cascade into may change. */
  const reaches = (m: Move): ReadonlySet<string> =>
    m.kind === 'pending' && m.pending.type === 'clone'
      ? reach(m.pending.event.task, true)
      : reach(
          m.kind === 'fire' ? m.fire.trigger : (m.pending as { trigger: string }).trigger,
          false,
        );

  /**
   * The events to try from a state. Partial-order reduction: an event that changes no task any
   * other event of the round (in flight now, still to be sent, or cascaded from either) can
   * change, commutes with all of them; every order is then as good as taking it first.
   */
  const nextMoves = (n: Node): Move[] => {
    const moves: Move[] = [];
    for (const index of n.remaining) {
      const fire = fireAt(n, index);
      if (fire) moves.push({ kind: 'fire', index, fire });
    }
    const inFlight: Move[] = n.pending.map((pending, index) => ({
      kind: 'pending',
      index,
      pending,
    }));
    const tried = new Set<string>();
    for (const m of inFlight) {
      if (m.kind !== 'pending') continue;
      // Two pending events alike lead to states alike: try one of them.
      const p = m.pending;
      const like = canonicalJson(p.type === 'fire' ? [p.trigger, p.kwargs] : p.event);
      if (tried.has(like)) continue;
      tried.add(like);
      moves.push(m);
    }
    const later: Move[] = [];
    const round = schedule[n.round] ?? [];
    for (let g = n.group + 1; g < round.length; g++) {
      for (const [index, fire] of (round[g] ?? []).entries()) {
        later.push({ kind: 'fire', index: -1 - index, fire });
      }
    }
    for (const m of moves) {
      const mine = touches(m);
      const others = [...moves.filter((o) => o.kind === 'fire'), ...inFlight, ...later].filter(
        (o) => o !== m,
      );
      const independent = others.every((o) => {
        if (m.kind === 'fire' && o.kind === 'fire' && o.fire.eventId === m.fire.eventId)
          return false;
        const r = reaches(o);
        return mine.every((t) => !r.has(t));
      });
      if (independent && reductions) return [m];
    }
    return reductions ? moves : [...moves.filter((m) => m.kind === 'fire'), ...inFlight];
  };

  visit({
    state: initialState(wf),
    records: new Map(),
    contents: new Map(),
    accepted: new Set(),
    pending: [],
    round: 0,
    group: 0,
    remaining: (schedule[0]?.[0] ?? []).map((_, i) => i),
  });
  return { outcomes, states: visited.size };
}

/** The comparable outcome of a session as a runtime shows it. */
export function observedOutcome(
  wf: CompiledWorkflow,
  instances: readonly TaskInstance[],
  unresolvedTasks: readonly string[],
): SessionOutcome {
  const byName = new Map(instances.map((i) => [i.name, i]));
  const memo = new Map<string, string>();
  const describe = (i: TaskInstance): string => {
    const known = memo.get(i.name);
    if (known !== undefined) return known;
    const parent = i.parent !== undefined ? byName.get(i.parent) : undefined;
    const o: InstanceOutcome = {
      task: i.task,
      status: i.status,
      attempt: i.attempt,
      kwargs: i.kwargs,
      ...(i.result !== undefined ? { result: i.result } : {}),
      ...(i.error !== undefined
        ? { error: { type: i.error.type, message: normalizeMessage(i.error.message, i.name) } }
        : {}),
      ...(i.metadata !== undefined ? { metadata: i.metadata } : {}),
      ...(i.parent !== undefined
        ? { parent: parent ? describe(parent) : `missing ${i.parent}` }
        : {}),
    };
    const text = canonicalJson(o);
    memo.set(i.name, text);
    return text;
  };
  return {
    instances: instances
      .filter((i) => wf.tasks.has(i.task))
      .map(describe)
      .sort(),
    unresolvedTasks: unresolvedTasks.filter((t) => wf.tasks.has(t)).sort(),
  };
}

/**
 * Problems with the instance numbers of a session: per task, the names must be `#0` to `#k-1`,
 * each once, and a clone's parent an earlier, replayed instance of the same task one attempt
 * below. Empty when all is well.
 */
export function checkNumbering(instances: readonly TaskInstance[]): string[] {
  const problems: string[] = [];
  const byTask = new Map<string, number[]>();
  const byName = new Map<string, TaskInstance>();
  for (const i of instances) {
    if (byName.has(i.name)) problems.push(`${i.name} appears twice`);
    byName.set(i.name, i);
    const m = /^(.*)#(\d+)$/.exec(i.name);
    if (!m || m[1] !== i.task) {
      problems.push(`${i.name} is not named after its task ${i.task}`);
      continue;
    }
    byTask.set(i.task, [...(byTask.get(i.task) ?? []), Number(m[2])]);
  }
  for (const [task, ns] of byTask) {
    const sorted = [...ns].sort((a, b) => a - b);
    if (sorted.some((n, k) => n !== k)) problems.push(`${task} numbers ${sorted.join(',')}`);
  }
  for (const i of instances) {
    if (i.parent === undefined) {
      if (i.attempt !== 0) problems.push(`${i.name} has attempt ${i.attempt} and no parent`);
      continue;
    }
    const p = byName.get(i.parent);
    const n = (name: string) => Number(name.slice(name.lastIndexOf('#') + 1));
    if (!p) problems.push(`${i.name}'s parent ${i.parent} is missing`);
    else if (p.task !== i.task || p.status !== 'replayed' || p.attempt + 1 !== i.attempt) {
      problems.push(`${i.name} (attempt ${i.attempt}) does not follow ${p.name} (${p.status})`);
    } else if (n(p.name) >= n(i.name)) problems.push(`${i.name} is numbered before ${p.name}`);
  }
  return problems;
}

/**
 * Problems with each instance's own outcome, whatever the order: every instance that ran must
 * hold exactly what the engine decides for its kwargs and attempt (status, result, error,
 * metadata), none may be left scheduled or running, and every replayed instance must have one
 * clone. Empty when all is well.
 */
export function instanceProblems(
  wf: CompiledWorkflow,
  instances: readonly TaskInstance[],
): string[] {
  const problems: string[] = [];
  for (const i of instances) {
    if (!wf.tasks.has(i.task) || i.status === 'unstarted' || i.status === 'abandoned') continue;
    if (i.status === 'scheduled' || i.status === 'running') {
      problems.push(`${i.name} is still ${i.status}`);
      continue;
    }
    const decision = handlerDecision(wf, i.task, i.kwargs, i.attempt);
    const record = decideOutcome(wf, {
      type: 'outcome',
      instance: i.name,
      task: i.task,
      attempt: i.attempt,
      outcome: toHandlerOutcome(decision),
      at: AT,
    }).find((e) => e.type === 'record');
    if (record?.type !== 'record') continue;
    const expected = canonicalJson({
      status: record.status,
      result: record.result,
      error: record.error && {
        type: record.error.type,
        message: normalizeMessage(record.error.message, i.name),
      },
      metadata: record.metadata,
    });
    const actual = canonicalJson({
      status: i.status,
      result: i.result,
      error: i.error && { type: i.error.type, message: normalizeMessage(i.error.message, i.name) },
      metadata: i.metadata,
    });
    if (actual !== expected)
      problems.push(`${i.name} holds ${actual}, the engine says ${expected}`);
    if (i.status === 'replayed') {
      const clones = instances.filter((c) => c.parent === i.name).length;
      if (clones !== 1) problems.push(`${i.name} is replayed with ${clones} clones`);
    }
  }
  return problems;
}
