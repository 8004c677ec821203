/**
 * The distributed guarantees as a property, on the memory backend: generated workflows (after,
 * andEvery, unless, cascades, withParams, handlers that fail, skip and retry as a pure function
 * of their kwargs) and schedules (concurrent fires, re-fired event ids, settled rounds), with
 * components crashing at the six fault points, settle to a session the pure engine allows for
 * the same events applied one by one (see `oracle.ts` for how order is handled).
 *
 * `TRIGGERS_SOAK_RUNS=n` runs n cases instead of the default (`npm run soak`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWorkflow } from '../../lib/engine/index.ts';
import type { TaskConfig } from '../../lib/index.ts';
import type { Schedule } from './arbitraries.ts';
import {
  type CaseCheck,
  type CaseRun,
  CRASH_INSIDE_HANDLER_FIRE_EXPECTED,
  checkRun,
  crashInsideHandlerFire,
  distributedCaseArb,
  replayParameters,
  runCases,
} from './distributed-case.ts';
import { allowedOutcomes, SearchBudgetError } from './oracle.ts';

const SOAK_RUNS = Number(process.env.TRIGGERS_SOAK_RUNS ?? 0);
const RUNS = SOAK_RUNS > 0 ? SOAK_RUNS : 250;

/** What the generated cases exercised, so a generator that stops producing it shows up. */
interface Tally {
  runs: number;
  crashes: Record<string, number>;
  duplicates: number;
  resent: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  retried: number;
  orderDependent: number;
  states: number;
  /** Cases whose order space the oracle gave up enumerating (checked instance by instance). */
  tooManyOrders: number;
}

function tallyRun(t: Tally, run: CaseRun, check: CaseCheck): void {
  t.runs += 1;
  t.states = Math.max(t.states, check.states);
  if (check.outcomes === undefined) t.tooManyOrders += 1;
  else if (check.outcomes > 1) t.orderDependent += 1;
  t.duplicates += run.duplicates;
  t.resent += run.resent;
  for (const c of run.crashed) t.crashes[c.point] = (t.crashes[c.point] ?? 0) + 1;
  for (const i of run.instances) {
    t.statuses[i.status] = (t.statuses[i.status] ?? 0) + 1;
    if (i.error) t.errors[i.error.type] = (t.errors[i.error.type] ?? 0) + 1;
    if (i.attempt > 0) t.retried += 1;
  }
}

describe('the distributed property on the memory backend', () => {
  it(
    `settles ${RUNS} generated sessions, with concurrent and duplicated fires, failing handlers and crashes, to outcomes the pure engine allows`,
    async () => {
      const tally: Tally = {
        runs: 0,
        crashes: {},
        duplicates: 0,
        resent: 0,
        statuses: {},
        errors: {},
        retried: 0,
        orderDependent: 0,
        states: 0,
        tooManyOrders: 0,
      };
      await fc.assert(
        fc.asyncProperty(distributedCaseArb({ maxFires: 8, maxCrashes: 3 }), async (c) => {
          const [run] = (await runCases('memory', [c], { settleTimeoutMs: 30_000 })) as [CaseRun];
          tallyRun(tally, run, checkRun(run));
        }),
        { numRuns: RUNS, ...replayParameters() },
      );
      console.log(`distributed property (memory): ${JSON.stringify(tally)}`);

      // The cases did reach what the property is about (over this many runs, each of these
      // happens dozens of times; none of them happening means a generator broke).
      expect(Object.keys(tally.crashes).sort()).toEqual([
        'dispatcher.beforeSend',
        'evaluator.afterCommit',
        'evaluator.afterSend',
        'ingest.afterEventWrite',
        'task.afterClaim',
        'task.afterCommit',
        'task.afterHandler',
      ]);
      expect(tally.duplicates).toBeGreaterThan(0);
      expect(tally.resent).toBeGreaterThan(0);
      expect(tally.retried).toBeGreaterThan(0);
      expect(tally.orderDependent).toBeGreaterThan(0);
      // Nearly every case is checked against the whole set of outcomes the engine allows.
      expect(tally.tooManyOrders).toBeLessThanOrEqual(Math.ceil(RUNS / 500));
      for (const status of [
        'finished',
        'failed',
        'skipped',
        'replayed',
        'abandoned',
        'unstarted',
      ]) {
        expect(tally.statuses[status] ?? 0, status).toBeGreaterThan(0);
      }
      for (const type of ['BehaviourError', 'InvalidResultError', 'MaxRetriesExceeded']) {
        expect(tally.errors[type] ?? 0, type).toBeGreaterThan(0);
      }
    },
    Math.max(300_000, RUNS * 2_000),
  );

  it("retries a crash inside a handler's ctx.fire to completion instead of failing the instance", async () => {
    expect(await crashInsideHandlerFire('memory')).toEqual(CRASH_INSIDE_HANDLER_FIRE_EXPECTED);
  });
});

/** The statuses of each allowed outcome, task by task (enough to tell the outcomes apart). */
function statusesOf(tasks: Record<string, TaskConfig>, schedule: Schedule): string[][] {
  const { outcomes } = allowedOutcomes(compileWorkflow({ name: 'o', tasks }), schedule);
  return [...outcomes.values()]
    .map((o) =>
      o.instances.map((i) => {
        const { task, status } = JSON.parse(i) as { task: string; status: string };
        return `${task} ${status}`;
      }),
    )
    .sort();
}

const fire = (eventId: string, trigger: string) => ({ eventId, trigger, kwargs: {}, delayMs: 0 });

describe('the oracle', () => {
  const unlessRace: Record<string, TaskConfig> = {
    t0: { after: ['a'], unless: ['b'], run: 'behave', behaviour: ['finish'] },
  };

  it('allows either side of an unless race when the two fires are in flight together', () => {
    expect(statusesOf(unlessRace, [[[fire('e1', 'a'), fire('e2', 'b')]]])).toEqual([
      ['t0 abandoned'],
      ['t0 finished'],
    ]);
  });

  it('allows only the order the application waited for when one fire follows the other', () => {
    expect(statusesOf(unlessRace, [[[fire('e1', 'a')], [fire('e2', 'b')]]])).toEqual([
      ['t0 finished'],
    ]);
    expect(statusesOf(unlessRace, [[[fire('e2', 'b')], [fire('e1', 'a')]]])).toEqual([
      ['t0 abandoned'],
    ]);
  });

  it('races a cascade against the fires of the same round, not against later rounds', () => {
    const tasks: Record<string, TaskConfig> = {
      t0: { after: ['a'], run: 'behave', behaviour: ['finish'] },
      t1: { after: ['t0'], unless: ['b'], run: 'behave', behaviour: ['finish'] },
    };
    const raced = [
      ['t0 finished', 't1 abandoned'],
      ['t0 finished', 't1 finished'],
    ];
    expect(statusesOf(tasks, [[[fire('e1', 'a')], [fire('e2', 'b')]]])).toEqual(raced);
    expect(statusesOf(tasks, [[[fire('e1', 'a')]], [[fire('e2', 'b')]]])).toEqual([raced[1]]);
  });

  it('gives the same outcomes with its reductions as the exhaustive search over every interleaving', () => {
    fc.assert(
      fc.property(distributedCaseArb({ maxFires: 7, maxCrashes: 0 }), (c) => {
        const wf = compileWorkflow({ name: 'o', tasks: c.tasks });
        const reduced = allowedOutcomes(wf, c.schedule);
        let exhaustive: ReturnType<typeof allowedOutcomes>;
        try {
          exhaustive = allowedOutcomes(wf, c.schedule, { reductions: false, budget: 100_000 });
        } catch (err) {
          // Too many interleavings to compare (rare at this size): draw another case.
          if (err instanceof SearchBudgetError) fc.pre(false);
          throw err;
        }
        expect([...reduced.outcomes.keys()].sort()).toEqual([...exhaustive.outcomes.keys()].sort());
      }),
      { numRuns: Math.max(300, Math.ceil(RUNS / 5)), ...replayParameters() },
    );
  }, 600_000);
});
