/**
 * Flatness: one long `andEvery` session, giving the cost of whole sessions of 10, 100 and 1,000
 * events, the unloaded latency, and whether an event's cost grows with the session's history.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { priceWorkload, type WorkloadCost } from './cost.ts';
import type { BenchEmulators } from './emulators.ts';
import { BenchRuntime, type RunnerSettings } from './runtime.ts';
import { type Distribution, distribution } from './stats.ts';
import { addUsage, totals, type Usage } from './usage.ts';
import { pageKwargs, pagesHandlers, pagesWorkflow, type ScriptedEvent } from './workloads.ts';

/** The cost of the page fired at one session length. */
export interface FlatnessPoint {
  /** The page's number: the session's length in pages once it is fired. */
  length: number;
  readUnits: number;
  writeUnits: number;
  awsWriteUnits: number;
  /** The units over the same units at the first point (length 10). */
  readRatio: number;
  writeRatio: number;
  awsWriteRatio: number;
  /** Whether the pages before it were all fired one at a time, or partly in bursts. */
  history: 'paced' | 'burst-filled';
}

/** What the long session measured. */
export interface PagesResult {
  /** Whole sessions of `start` + N pages, fired one event at a time. */
  sessionCosts: WorkloadCost[];
  points: FlatnessPoint[];
  /** From a page's acceptance to its handler's start, pages fired one at a time, ms. */
  latencyMs: Distribution;
  /** Records per evaluator invocation while pages were fired one at a time, and in bursts. */
  evaluatorBatchSizes: { paced: Distribution; burst: Distribution };
  /**
   * What the pages fired in bursts cost per page, all together: the evaluator then commits many
   * events per transaction, which DynamoDB Local and AWS's formula charge differently.
   */
  burst: { pages: number; readUnits: number; writeUnits: number; awsWriteUnits: number };
  /** Wall-clock seconds the session took. */
  seconds: number;
}

/** Options of `measurePagesSession`. */
export interface PagesOptions {
  emulators: BenchEmulators;
  /** Pages fired one at a time from the start. */
  pacedUpTo: number;
  /** Session lengths (≤ `pacedUpTo`) whose whole-session cost is reported. */
  sessionLengths: readonly number[];
  /** Lengths whose page is measured alone; the first is the reference (10). */
  flatnessAt: readonly number[];
  /** Pages fired together when filling between measured pages. */
  burst: number;
  runner?: RunnerSettings;
  onPages?: (n: number) => void;
}

const page = (n: number): ScriptedEvent => ({ trigger: 'page', kwargs: pageKwargs(n) });

/**
 * Runs the long `andEvery` session (`t_page` after `start`, one instance per `page`) and measures
 * it. Its first pages are fired one at a time, each once the previous one's work was done, which
 * gives the cost of whole sessions of 10, 100 and 1,000 events and the unloaded latency; the cost
 * of single pages at lengths 10, 100, 1,000 and 10,000 shows whether an event's cost grows with
 * the session's history. Pages between the measured ones may be fired in bursts to reach the long
 * lengths sooner; a measured page is always fired alone, on a session with nothing in flight.
 *
 * @example
 * const r = await measurePagesSession({ emulators, pacedUpTo: 100, sessionLengths: [10, 100], flatnessAt: [10, 100, 1000], burst: 200 });
 */
export async function measurePagesSession(opts: PagesOptions): Promise<PagesResult> {
  const rt = await BenchRuntime.start({
    workflow: pagesWorkflow,
    handlers: pagesHandlers,
    emulators: opts.emulators,
    ...(opts.runner ? { runner: opts.runner } : {}),
  });
  const began = performance.now();
  try {
    const warm = 'pages-warm';
    await rt.fire(warm, 'start', { run: 'warm' });
    await rt.settled(warm);
    for (let n = 1; n <= 5; n++) {
      await rt.fire(warm, 'page', pageKwargs(n));
      await rt.settled(warm);
    }
    rt.take();

    const id = 'pages';
    const start: ScriptedEvent = { trigger: 'start', kwargs: { run: 'bench' } };
    await rt.fire(id, start.trigger, start.kwargs);
    await rt.settled(id);
    const history: Usage[] = [rt.take()];
    const marginal = new Map<number, { usage: Usage; paced: boolean }>();
    const sessionCosts: WorkloadCost[] = [];
    const latencies: number[] = [];
    const pacedBatches: number[] = [];
    const burstBatches: number[] = [];
    const burstUsage: Usage[] = [];
    let burstPages = 0;
    const last = Math.max(opts.pacedUpTo, ...opts.flatnessAt);
    let fired = 0;
    let paced = true;

    while (fired < last) {
      const n = fired + 1;
      if (n <= opts.pacedUpTo || opts.flatnessAt.includes(n)) {
        const accepted = await rt.fire(id, 'page', pageKwargs(n));
        await rt.settled(id);
        fired = n;
        const usage = rt.take();
        pacedBatches.push(...usage.evaluatorBatchSizes);
        const started = rt.handlerStarts.get(`${id}/t_page#${n - 1}`);
        if (started !== undefined) latencies.push(started - accepted);
        if (n <= opts.pacedUpTo) history.push(usage);
        if (opts.flatnessAt.includes(n)) marginal.set(n, { usage, paced });
        if (opts.sessionLengths.includes(n) && n <= opts.pacedUpTo) {
          sessionCosts.push(
            priceWorkload({
              name: `andEvery-${n}`,
              description: `t_page andEvery page: start + ${n} page events`,
              workflow: pagesWorkflow,
              events: [start, ...Array.from({ length: n }, (_, i) => page(i + 1))],
              usage: addUsage(history),
              sessions: 1,
              firing:
                'paced: each event fired once the previous one was applied and its task finished',
            }),
          );
        }
        opts.onPages?.(1);
        continue;
      }
      const nextMeasured = Math.min(...opts.flatnessAt.filter((m) => m > fired), last + 1);
      const upTo = Math.min(fired + opts.burst, nextMeasured - 1);
      await Promise.all(
        Array.from({ length: upTo - fired }, (_, i) =>
          rt.fire(id, 'page', pageKwargs(fired + i + 1)),
        ),
      );
      await rt.settled(id, 600_000);
      const usage = rt.take();
      burstBatches.push(...usage.evaluatorBatchSizes);
      burstUsage.push(usage);
      burstPages += upTo - fired;
      opts.onPages?.(upTo - fired);
      fired = upTo;
      paced = false;
    }

    const reference = marginal.get(opts.flatnessAt[0] as number);
    const ref = reference ? totals(reference.usage) : undefined;
    const points: FlatnessPoint[] = opts.flatnessAt.map((length) => {
      const m = marginal.get(length);
      const t = m ? totals(m.usage) : undefined;
      const ratio = (a: number | undefined, b: number | undefined) =>
        a === undefined || b === undefined || b === 0 ? Number.NaN : a / b;
      return {
        length,
        readUnits: t?.readUnits ?? Number.NaN,
        writeUnits: t?.writeUnits ?? Number.NaN,
        awsWriteUnits: t?.awsWriteUnits ?? Number.NaN,
        readRatio: ratio(t?.readUnits, ref?.readUnits),
        writeRatio: ratio(t?.writeUnits, ref?.writeUnits),
        awsWriteRatio: ratio(t?.awsWriteUnits, ref?.awsWriteUnits),
        history: m?.paced === false ? 'burst-filled' : 'paced',
      };
    });
    return {
      sessionCosts,
      points,
      latencyMs: distribution(latencies),
      evaluatorBatchSizes: {
        paced: distribution(pacedBatches),
        burst: distribution(burstBatches),
      },
      burst: (() => {
        const t = totals(addUsage(burstUsage));
        const per = (n: number) => (burstPages === 0 ? 0 : n / burstPages);
        return {
          pages: burstPages,
          readUnits: per(t.readUnits),
          writeUnits: per(t.writeUnits),
          awsWriteUnits: per(t.awsWriteUnits),
        };
      })(),
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    await rt.close();
  }
}
