/**
 * Crash tests: one component crashes once at each fault point, its event source retries it the
 * way AWS would (HTTP client retry, stream retry, SQS redelivery after the visibility timeout),
 * and the session ends exactly as if nothing had crashed: nothing lost, nothing doubled.
 */
import { describe, expect, it } from 'vitest';
import type { InstanceStatus, Kwargs, TaskConfig, TaskHandler } from '../../lib/index.ts';
import {
  crashOnce,
  createTestRuntime,
  type FaultPoint,
  InjectedFault,
} from '../../lib/testing/index.ts';
import { backend } from './harness.ts';

type Runtime = Awaited<ReturnType<typeof createTestRuntime>>;
type Session = ReturnType<Runtime['session']>;

/** Crashes here are recovered by redelivering the task message after its visibility timeout. */
const REDELIVERED: readonly FaultPoint[] = [
  'task.afterClaim',
  'task.afterHandler',
  'task.afterCommit',
];

/**
 * On dynamodb-local the visibility timeout is 18 s of real time: recovery takes ~20 s. A crash
 * after the sends re-sends them, and a duplicate that finds its instance still running waits
 * for the visibility timeout too.
 */
const testTimeoutMs = (point: FaultPoint): number =>
  backend === 'dynamodb-local' && (REDELIVERED.includes(point) || point === 'evaluator.afterSend')
    ? 90_000
    : 60_000;

const SETTLE = { timeoutMs: 60_000 };

interface FaultCase {
  point: FaultPoint;
  /** How often the crashed task's handler may run: twice only when it crashed after running. */
  handlerRuns: [min: number, max: number];
}

const CASES: FaultCase[] = [
  { point: 'ingest.afterEventWrite', handlerRuns: [1, 1] },
  { point: 'evaluator.afterCommit', handlerRuns: [1, 1] },
  { point: 'dispatcher.beforeSend', handlerRuns: [1, 1] },
  // The messages are sent, the batch is not acknowledged: the re-delivery sends them again,
  // and the duplicates find their instances claimed or resolved.
  { point: 'evaluator.afterSend', handlerRuns: [1, 1] },
  { point: 'task.afterClaim', handlerRuns: [1, 1] },
  // At-least-once: the handler ran, its outcome was not committed, so the redelivery runs it
  // again. There is still one recorded outcome and one cascade.
  { point: 'task.afterHandler', handlerRuns: [1, 2] },
  { point: 'task.afterCommit', handlerRuns: [1, 1] },
];

/** Handlers that count their calls. */
function countingHandlers(): { handlers: Record<string, TaskHandler>; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  return {
    calls,
    handlers: {
      runA: () => {
        count('runA');
        return { a: 'done' };
      },
      runB: (ctx) => {
        count('runB');
        return { got: ctx.kwargs };
      },
      runEvery: (ctx) => {
        count('runEvery');
        return { got: ctx.kwargs };
      },
      observe: (ctx) => {
        count(`observe:${ctx.sessionId}`);
        return {};
      },
    },
  };
}

/**
 * Fires as an HTTP client would: a fire that fails with the injected crash is sent again with
 * the same event id. Returns how many attempts failed.
 */
async function fireRetrying(
  s: Session,
  trigger: string,
  kwargs: Kwargs,
  eventId: string,
): Promise<number> {
  for (let failed = 0; ; failed++) {
    try {
      await s.fire(trigger, kwargs, { eventId });
      return failed;
    } catch (err) {
      if (!(err instanceof InjectedFault) || failed >= 1) throw err;
    }
  }
}

/** Every instance of the session, name → status (so an extra instance shows up as a key). */
async function statuses(s: Session): Promise<Record<string, InstanceStatus>> {
  const out: Record<string, InstanceStatus> = {};
  for (const i of await s.instances()) out[i.name] = i.status;
  return out;
}

/**
 * Two sessions in one runtime, so that both crashes of a point share one redelivery wait:
 * `chain` fires `go` (t_a, then its cascade t_b), `every` fires `tick` 3 times (t_every).
 * Observers get one instance per application of `go` and per cascade of `t_a` / `t_every`, so
 * a doubled event or cascade shows up as an extra instance.
 */
const WORKFLOW: Record<string, TaskConfig> = {
  t_a: { after: ['go'], run: 'runA' },
  t_b: { after: ['t_a'], run: 'runB' },
  seen_go: { after: [], andEvery: 'go', run: 'observe' },
  seen_t_a: { after: [], andEvery: 't_a', run: 'observe' },
  t_every: { after: [], andEvery: 'tick', run: 'runEvery' },
  seen_t_every: { after: [], andEvery: 't_every', run: 'observe' },
};

// Sequential on purpose: on DynamoDB Local, a runtime whose stream is still empty while another
// runtime's table is written wedges its stream poller (see 'runtimes started side by side' in
// concurrency.test.ts), which would turn these into timeouts.
describe('a single crash', () => {
  for (const { point, handlerRuns } of CASES) {
    it(
      `at ${point} loses and doubles nothing: one outcome and one cascade per instance, one instance per andEvery fire`,
      async () => {
        const { handlers, calls } = countingHandlers();
        const chainFaults = crashOnce(
          [point],
          (site) =>
            site.sessionId === 'chain' &&
            (site.instance === undefined || site.instance === 't_a#0') &&
            (site.eventId === undefined || site.eventId === 'go-1'),
        );
        const everyFaults = crashOnce(
          [point],
          (site) =>
            site.sessionId === 'every' &&
            (site.instance === undefined || site.instance.startsWith('t_every#')),
        );
        const rt = await createTestRuntime({
          workflow: WORKFLOW,
          handlers,
          backend,
          faults: (p, site) => {
            chainFaults.hook(p, site);
            everyFaults.hook(p, site);
          },
        });
        try {
          const chain = rt.session('chain');
          const every = rt.session('every');

          const chainFailedFires = await fireRetrying(chain, 'go', { answer: 42 }, 'go-1');
          let everyFailedFires = 0;
          for (const i of [0, 1, 2]) {
            everyFailedFires += await fireRetrying(every, 'tick', { i }, `tick-${i}`);
          }
          await rt.settle(SETTLE);

          // The crash happened, once, where it was armed; only a crashed fire was retried.
          expect(chainFaults.fired.map((f) => f.point)).toEqual([point]);
          expect(everyFaults.fired.map((f) => f.point)).toEqual([point]);
          if (point.startsWith('task.') || point.startsWith('dispatcher.')) {
            expect(chainFaults.fired[0]?.site.instance).toBe('t_a#0');
          }
          const crashedFires = point === 'ingest.afterEventWrite' ? 1 : 0;
          expect(chainFailedFires).toBe(crashedFires);
          expect(everyFailedFires).toBe(crashedFires);

          // chain: go applied once, t_a recorded once, cascaded once, t_b ran once.
          expect(await statuses(chain)).toEqual({
            'seen_go#0': 'finished',
            't_a#0': 'finished',
            'seen_t_a#0': 'finished',
            't_b#0': 'finished',
          });
          const a = await chain.instance('t_a#0');
          expect(a?.kwargs).toEqual({ go: { answer: 42 } });
          expect(a?.result).toEqual({ a: 'done' });
          expect((await chain.instance('t_b#0'))?.result).toEqual({ got: { t_a: { a: 'done' } } });
          const runsA = calls.get('runA') ?? 0;
          expect(runsA).toBeGreaterThanOrEqual(handlerRuns[0]);
          expect(runsA).toBeLessThanOrEqual(handlerRuns[1]);
          expect(calls.get('runB')).toBe(1);
          expect(calls.get('observe:chain')).toBe(2);
          expect(await chain.unresolvedInstances()).toEqual([]);

          // every: one instance per tick, each with its own kwargs, each cascaded once.
          expect(await statuses(every)).toEqual({
            't_every#0': 'finished',
            't_every#1': 'finished',
            't_every#2': 'finished',
            'seen_t_every#0': 'finished',
            'seen_t_every#1': 'finished',
            'seen_t_every#2': 'finished',
          });
          const ticks = [];
          for (const n of [0, 1, 2]) ticks.push((await every.instance(`t_every#${n}`))?.kwargs);
          expect(ticks).toEqual([{ tick: { i: 0 } }, { tick: { i: 1 } }, { tick: { i: 2 } }]);
          const runsEvery = calls.get('runEvery') ?? 0;
          expect(runsEvery).toBeGreaterThanOrEqual(3);
          expect(runsEvery).toBeLessThanOrEqual(2 + handlerRuns[1]);
          expect(calls.get('observe:every')).toBe(3);
          expect(await every.unresolvedInstances()).toEqual([]);
        } finally {
          await rt.close();
        }
      },
      testTimeoutMs(point),
    );
  }
});

describe('a crash between the sends of one commit', () => {
  it(
    'sends the unsent one on re-delivery and runs each instance once (the sent one gets a harmless duplicate)',
    async () => {
      const { handlers, calls } = countingHandlers();
      const sendsSeen: string[] = [];
      let crashed: string | undefined;
      const rt = await createTestRuntime({
        // One fire schedules two instances in one commit, sent one after the other.
        workflow: {
          t_one: { after: ['go'], run: 'runA' },
          t_two: { after: ['go'], run: 'observe' },
        },
        handlers,
        backend,
        faults: (point, site) => {
          if (point !== 'dispatcher.beforeSend' || site.instance === undefined) return;
          sendsSeen.push(site.instance);
          if (crashed === undefined && sendsSeen.length === 2) {
            crashed = site.instance;
            throw new InjectedFault(point);
          }
        },
      });
      try {
        const s = rt.session('pair');
        await s.fire('go', {});
        await rt.settle(SETTLE);

        // The second send crashed; the re-delivery sent both again.
        expect(crashed).toBeDefined();
        expect(sendsSeen.slice(0, 2).sort()).toEqual(['t_one#0', 't_two#0']);
        expect(sendsSeen.slice(2).sort()).toEqual(['t_one#0', 't_two#0']);
        expect(await statuses(s)).toEqual({ 't_one#0': 'finished', 't_two#0': 'finished' });
        expect(calls.get('runA')).toBe(1);
        expect(calls.get('observe:pair')).toBe(1);
      } finally {
        await rt.close();
      }
    },
    backend === 'dynamodb-local' ? 90_000 : 60_000,
  );
});
