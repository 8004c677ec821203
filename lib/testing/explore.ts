/**
 * Order exploration: a list of events run through a workflow in every order (or a seeded
 * sample), the distinct outcomes reported with the smallest order that produced each.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { z } from 'zod';
import { fireInputSchema, parseInput } from '../core/validation.ts';
import { parseInstanceName } from '../engine/names.ts';
import { checkHandlers, compileWorkflow } from '../engine/workflow.ts';
import { TriggersError, ValidationError } from '../errors.ts';
import type {
  InstanceStatus,
  Kwargs,
  TaskConfig,
  TaskHandler,
  TaskInstance,
  Workflow,
} from '../types.ts';
import { createTestRuntime } from './index.ts';
import { asWorkflow } from './workflow-input.ts';

/**
 * One event of an exploration: a trigger and its kwargs.
 *
 * @example
 * const event: ExploreEvent = { trigger: 'dataReceived', kwargs: { answer: 42 } };
 */
export interface ExploreEvent {
  trigger: string;
  kwargs?: Kwargs;
}

/**
 * Options of `explore`.
 *
 * @example
 * const opts: ExploreOptions = {
 *   workflow: { t_x: { after: ['a'], unless: ['b'], run: 'work' } },
 *   handlers: { work: () => ({}) },
 *   events: [{ trigger: 'a' }, { trigger: 'b' }],
 * };
 */
export interface ExploreOptions {
  /** The workflow, or just its tasks (the workflow is then named `'default'`). */
  readonly workflow: Workflow | Record<string, TaskConfig>;
  /** Task handlers by the name tasks `run`. Runs happen one after another, never at once. */
  readonly handlers: Record<string, TaskHandler>;
  /**
   * The events to order, 1 to 64. Each is one fire with its own event id; a trigger may appear
   * more than once (each occurrence is then its own event).
   */
  readonly events: readonly ExploreEvent[];
  /**
   * Also deliver every event a second time with the same event id, anywhere after its first
   * delivery (the first delivery of an event id is the original by definition).
   * @default false
   */
  readonly duplicates?: boolean;
  /**
   * The most orders to run. When there are no more orders than this, every one runs; otherwise
   * the order as written and `runs - 1` other distinct orders picked at random with `seed`.
   * @default 1000
   */
  readonly runs?: number;
  /** Seeds the sample of orders (a whole number from 0 to 2^32 - 1). @default 1 */
  readonly seed?: number;
  /**
   * How long each settle may take before the run fails with `ExploreRunError` (a handler that
   * never returns, say), in ms.
   * @default 30000
   */
  readonly settleTimeoutMs?: number;
}

/**
 * One distinct final outcome of an exploration.
 *
 * @example
 * const outcome: ExploreOutcome = { statuses: { 't_x#0': 'finished' }, order: ['a', 'b'], count: 1 };
 */
export interface ExploreOutcome {
  /** The status of every instance the session ended with, by instance name. */
  statuses: Record<string, InstanceStatus>;
  /**
   * The smallest order that ended this way, as delivery labels: the trigger name, `name#k` for
   * the k-th occurrence (from 1) of a trigger the event list holds more than once, and a
   * ` (dup)` suffix for a duplicate delivery. Smallest means closest to the event list as
   * written: the fewest pairs of deliveries the other way round (a duplicate ranks right after
   * its original), then lexicographically by the events' places in the list.
   */
  order: string[];
  /** How many of the orders run ended this way. */
  count: number;
}

/**
 * What `explore` found.
 *
 * @example
 * const { outcomes, runs, exhaustive } = await explore(opts);
 * if (outcomes.length > 1) console.log(`order-dependent (${runs} orders, exhaustive: ${exhaustive})`);
 */
export interface ExploreResult {
  /**
   * The distinct outcomes, sorted by their `order` (closest to the list as written first: the
   * first outcome is the one of the list as written, which always runs).
   */
  outcomes: ExploreOutcome[];
  /** How many orders ran: the sum of the outcomes' counts. */
  runs: number;
  /** How many distinct orders there are (n! events, or (2n)!/2^n with duplicates). */
  totalOrders: number;
  /** Whether every order ran (otherwise a seeded sample did). */
  exhaustive: boolean;
  /** The seed of the sample; absent when every order ran. */
  seed?: number;
}

/**
 * A run of an exploration could not finish (a handler that never returns, say): not an outcome
 * of the workflow but a failure to reach one. `cause` is the runtime's error.
 *
 * @example
 * try { await explore(opts); } catch (e) { if (e instanceof ExploreRunError) console.error(e.order); }
 */
export class ExploreRunError extends TriggersError {
  /** The order the failed run delivered, as labels. */
  readonly order: string[];
  constructor(message: string, opts: { order: string[]; cause: unknown }) {
    super(message, { code: 'EXPLORE_RUN_FAILED', cause: opts.cause });
    this.order = opts.order;
  }
}

/**
 * The most events an exploration takes: every run fires each of them.
 *
 * @example
 * if (events.length > MAX_EXPLORE_EVENTS) events = events.slice(0, MAX_EXPLORE_EVENTS);
 */
export const MAX_EXPLORE_EVENTS = 64;

const DEFAULT_RUNS = 1000;
const DEFAULT_SEED = 1;
const DEFAULT_SETTLE_TIMEOUT_MS = 30_000;

const optionsSchema = z.object({
  events: z
    .array(fireInputSchema.pick({ trigger: true, kwargs: true }), {
      error: 'must be an array of { trigger, kwargs? }',
    })
    .min(1, { error: 'must hold at least one event' })
    .max(MAX_EXPLORE_EVENTS, { error: `must hold at most ${MAX_EXPLORE_EVENTS} events` }),
  duplicates: z.boolean({ error: 'must be a boolean' }).optional(),
  runs: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .optional(),
  seed: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be from 0 to 4294967295' })
    .max(0xffff_ffff, { error: 'must be from 0 to 4294967295' })
    .optional(),
  settleTimeoutMs: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .optional(),
});

/** Triggers the workflow reacts to: task directives, and the `from` of its timers. */
function triggersHeard(workflow: Workflow): Set<string> {
  const heard = new Set(compileWorkflow(workflow).listeners.keys());
  const timers = (workflow as { timers?: unknown }).timers;
  if (typeof timers === 'object' && timers !== null) {
    for (const timer of Object.values(timers)) {
      const from = (timer as { from?: unknown } | null)?.from;
      if (typeof from === 'string') heard.add(from);
    }
  }
  return heard;
}

/** The number of distinct orders of `n` events, each delivered `copies` times. */
function countOrders(n: number, copies: 1 | 2): number {
  let total = 1;
  for (let k = 2; k <= n * copies; k++) total *= k;
  return copies === 2 ? total / 2 ** n : total;
}

/** Every order (a sequence of event indices) in lexicographic order, the list as written first. */
function* everyOrder(n: number, copies: 1 | 2): Generator<number[]> {
  const left = new Array<number>(n).fill(copies);
  const order: number[] = [];
  function* extend(): Generator<number[]> {
    if (order.length === n * copies) {
      yield [...order];
      return;
    }
    for (let i = 0; i < n; i++) {
      if (left[i] === 0) continue;
      left[i] = (left[i] as number) - 1;
      order.push(i);
      yield* extend();
      order.pop();
      left[i] = (left[i] as number) + 1;
    }
  }
  yield* extend();
}

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The list as written, then `runs - 1` other distinct orders, each uniform over all orders
 * (a shuffle of the multiset of deliveries). Only called when there are more orders than runs.
 */
function* sampledOrders(n: number, copies: 1 | 2, runs: number, seed: number): Generator<number[]> {
  const next = random(seed);
  const first = Array.from({ length: n * copies }, (_, k) => Math.floor(k / copies));
  const seen = new Set([first.join(',')]);
  yield first;
  while (seen.size < runs) {
    const order = [...first];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const key = order.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    yield order;
  }
}

/**
 * How far an order is from the list as written: the pairs of deliveries it has the other way
 * round, each duplicate ranked right after its original.
 */
function displacement(order: readonly number[]): number {
  const delivered = new Set<number>();
  const ranks = order.map((i) => {
    const rank = 2 * i + (delivered.has(i) ? 1 : 0);
    delivered.add(i);
    return rank;
  });
  let pairs = 0;
  for (let p = 0; p < ranks.length; p++) {
    for (let q = p + 1; q < ranks.length; q++) {
      if ((ranks[p] as number) > (ranks[q] as number)) pairs += 1;
    }
  }
  return pairs;
}

/** Smaller is closer to the list as written: fewer pairs out of order, then lexicographically. */
function compareOrders(a: RankedOrder, b: RankedOrder): number {
  if (a.displacement !== b.displacement) return a.displacement - b.displacement;
  for (let i = 0; i < Math.min(a.order.length, b.order.length); i++) {
    const d = (a.order[i] as number) - (b.order[i] as number);
    if (d !== 0) return d;
  }
  return a.order.length - b.order.length;
}

interface RankedOrder {
  readonly order: readonly number[];
  readonly displacement: number;
}

/** Each event's label: its trigger, with `#k` when the list holds that trigger more than once. */
function eventLabels(events: readonly ExploreEvent[]): string[] {
  const total = new Map<string, number>();
  for (const e of events) total.set(e.trigger, (total.get(e.trigger) ?? 0) + 1);
  const seen = new Map<string, number>();
  return events.map((e) => {
    const k = (seen.get(e.trigger) ?? 0) + 1;
    seen.set(e.trigger, k);
    return (total.get(e.trigger) ?? 0) > 1 ? `${e.trigger}#${k}` : e.trigger;
  });
}

function orderLabels(order: readonly number[], labels: readonly string[]): string[] {
  const delivered = new Set<number>();
  return order.map((i) => {
    const label = labels[i] as string;
    if (delivered.has(i)) return `${label} (dup)`;
    delivered.add(i);
    return label;
  });
}

/** Statuses by instance name, by task then instance number, so equal outcomes serialize equal. */
function statusesOf(instances: readonly TaskInstance[]): Record<string, InstanceStatus> {
  const sorted = [...instances].sort((a, b) => {
    const pa = parseInstanceName(a.name);
    const pb = parseInstanceName(b.name);
    if (pa === undefined || pb === undefined) return a.name < b.name ? -1 : 1;
    if (pa.task !== pb.task) return pa.task < pb.task ? -1 : 1;
    return pa.n - pb.n;
  });
  return Object.fromEntries(sorted.map((i) => [i.name, i.status]));
}

/**
 * Runs a list of events through a workflow in every order, or in a seeded sample of orders when
 * there are more than `runs`, and reports the distinct final outcomes (the status of every
 * instance), each with the smallest order that produced it and how many orders did.
 *
 * Each order runs in a fresh memory-backend test runtime (its own store, queues and virtual
 * clock; session `explore-<run>`), one run after another. Every event is fired with its own
 * event id and the runtime settles before the next one, cascades and retries included: an
 * order is the order in which events are applied to a session with nothing in flight. So an
 * `unless` race shows as two outcomes, and each outcome is reproduced by replaying its `order`
 * with a settle after every fire, on any backend.
 *
 * Throws `ValidationError` for bad events or options, `WorkflowError` for a bad workflow or a
 * missing handler, and `ExploreRunError` when a run cannot settle.
 *
 * @example
 * const { outcomes } = await explore({
 *   workflow: { t_x: { after: ['a'], unless: ['b'], run: 'work' } },
 *   handlers: { work: () => ({}) },
 *   events: [{ trigger: 'a' }, { trigger: 'b' }],
 * });
 * // [{ statuses: { 't_x#0': 'finished' }, order: ['a', 'b'], count: 1 },
 * //  { statuses: { 't_x#0': 'abandoned' }, order: ['b', 'a'], count: 1 }]
 */
export async function explore(opts: ExploreOptions): Promise<ExploreResult> {
  if (typeof opts !== 'object' || opts === null) {
    throw new ValidationError('explore takes an object { workflow, handlers, events, ... }');
  }
  const workflow = asWorkflow(opts.workflow);
  if (typeof opts.handlers !== 'object' || opts.handlers === null) {
    throw new ValidationError('handlers must be an object of task handlers by name');
  }
  for (const [name, handler] of Object.entries(opts.handlers)) {
    if (typeof handler !== 'function') {
      throw new ValidationError(`handler '${name}' must be a function`);
    }
  }
  checkHandlers(compileWorkflow(workflow), Object.keys(opts.handlers));
  const input = parseInput(optionsSchema, {
    events: opts.events,
    duplicates: opts.duplicates,
    runs: opts.runs,
    seed: opts.seed,
    settleTimeoutMs: opts.settleTimeoutMs,
  });
  const heard = triggersHeard(workflow);
  input.events.forEach((e, i) => {
    if (!heard.has(e.trigger)) {
      throw new ValidationError(
        `'events.${i}.trigger': workflow '${workflow.name}' has no task that listens to '${e.trigger}' (in after, andEvery or unless): a typo?`,
      );
    }
    try {
      structuredClone(e.kwargs);
    } catch (err) {
      throw new ValidationError(`'events.${i}.kwargs' must be plain JSON data`, { cause: err });
    }
  });

  const events: ExploreEvent[] = input.events;
  const copies = input.duplicates === true ? 2 : 1;
  const runs = input.runs ?? DEFAULT_RUNS;
  const totalOrders = countOrders(events.length, copies);
  const exhaustive = totalOrders <= runs;
  const seed = input.seed ?? DEFAULT_SEED;
  const orders = exhaustive
    ? everyOrder(events.length, copies)
    : sampledOrders(events.length, copies, runs, seed);
  const labels = eventLabels(events);
  const settleTimeoutMs = input.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS;

  const byOutcome = new Map<
    string,
    { statuses: Record<string, InstanceStatus>; smallest: RankedOrder; count: number }
  >();
  let run = 0;
  for (const order of orders) {
    run += 1;
    const statuses = await runOrder(
      { workflow, handlers: opts.handlers, events, labels, settleTimeoutMs },
      order,
      run,
    );
    const key = JSON.stringify(Object.entries(statuses));
    const ranked = { order, displacement: displacement(order) };
    const found = byOutcome.get(key);
    if (found === undefined) {
      byOutcome.set(key, { statuses, smallest: ranked, count: 1 });
    } else {
      found.count += 1;
      if (compareOrders(ranked, found.smallest) < 0) found.smallest = ranked;
    }
  }

  const outcomes = [...byOutcome.values()]
    .sort((a, b) => compareOrders(a.smallest, b.smallest))
    .map((o) => ({
      statuses: o.statuses,
      order: orderLabels(o.smallest.order, labels),
      count: o.count,
    }));
  return { outcomes, runs: run, totalOrders, exhaustive, ...(exhaustive ? {} : { seed }) };
}

/** What every run of one exploration shares. */
interface Exploration {
  readonly workflow: Workflow;
  readonly handlers: Record<string, TaskHandler>;
  readonly events: readonly ExploreEvent[];
  readonly labels: readonly string[];
  readonly settleTimeoutMs: number;
}

async function runOrder(
  x: Exploration,
  order: readonly number[],
  run: number,
): Promise<Record<string, InstanceStatus>> {
  const rt = await createTestRuntime({ workflow: x.workflow, handlers: x.handlers });
  try {
    const session = rt.session(`explore-${run}`);
    for (const i of order) {
      const event = x.events[i] as ExploreEvent;
      await session.fire(event.trigger, event.kwargs, { eventId: `explore-${i}` });
      await rt.settle({ timeoutMs: x.settleTimeoutMs });
    }
    return statusesOf(await session.instances());
  } catch (err) {
    const shown = orderLabels(order, x.labels);
    const reason = err instanceof Error ? err.message : String(err);
    throw new ExploreRunError(`run ${run} (order: ${shown.join(', ')}) failed: ${reason}`, {
      order: shown,
      cause: err,
    });
  } finally {
    await rt.close();
  }
}
