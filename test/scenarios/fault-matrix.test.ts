/**
 * The fault matrix beyond the fire flow (which `faults.test.ts` covers): a crash at every fault
 * point of the replay, skip and retry flows, once each, on both backends. The work must finish
 * with nothing lost and nothing doubled: one clone per replay or retry, one cascade per skip,
 * one recorded outcome per instance (a handler runs twice only when it crashed after running,
 * before its outcome was committed).
 */
import { describe, expect, it } from 'vitest';
import { FAULT_POINTS, type FaultSite } from '../../lib/core/faults.ts';
import {
  type InstanceStatus,
  type Kwargs,
  Retry,
  type TaskConfig,
  type TaskHandler,
} from '../../lib/index.ts';
import { createTestRuntime, type FaultPoint, InjectedFault } from '../../lib/testing/index.ts';
import { backend } from './harness.ts';

type Runtime = Awaited<ReturnType<typeof createTestRuntime>>;
type Session = ReturnType<Runtime['session']>;

const SETTLE = { timeoutMs: 60_000 };

const WORKFLOW: Record<string, TaskConfig> = {
  // Replay and skip sessions: t_f fails unless `go` or its replacement says `fixed`.
  t_f: { after: ['go'], run: 'flaky' },
  t_next: { after: ['t_f'], run: 'next' },
  // Retry session: t_r asks for one retry, its clone finishes.
  t_r: { after: ['again'], run: 'retrier', maxRetries: 2 },
  t_after_r: { after: ['t_r'], run: 'next' },
};

/** Which instance a task or dispatcher crash targets, per flow session. */
const TARGET: Record<string, Partial<Record<FaultPoint, string>>> = {
  // After the replay request: the clone is dispatched and run.
  replay: {
    'dispatcher.beforeSend': 't_f#1',
    'task.afterClaim': 't_f#1',
    'task.afterHandler': 't_f#1',
    'task.afterCommit': 't_f#1',
  },
  // After the skip request: the cascade's task is dispatched and run.
  skip: {
    'dispatcher.beforeSend': 't_next#0',
    'task.afterClaim': 't_next#0',
    'task.afterHandler': 't_next#0',
    'task.afterCommit': 't_next#0',
  },
  // The Retry outcome of t_r#0 (its commit writes the clone request), then the clone.
  retry: {
    'dispatcher.beforeSend': 't_r#1',
    'task.afterClaim': 't_r#1',
    'task.afterHandler': 't_r#0',
    'task.afterCommit': 't_r#0',
  },
};

/** On DynamoDB Local a task crash waits for the visibility timeout (18 s of real time). */
const timeout = (point: FaultPoint) =>
  backend === 'dynamodb-local' && point.startsWith('task.') ? 120_000 : 60_000;

async function statuses(s: Session): Promise<Record<string, InstanceStatus>> {
  const out: Record<string, InstanceStatus> = {};
  for (const i of await s.instances()) out[i.name] = i.status;
  return out;
}

/** Sends a control request as a client does: once more if it crashed. */
async function retrying(request: () => Promise<void>): Promise<number> {
  try {
    await request();
    return 0;
  } catch (err) {
    if (!(err instanceof InjectedFault)) throw err;
    // The request was stored before the crash: the second one is a duplicate the evaluator
    // refuses, or the API already refuses it because the first was applied.
    await request().catch((again: unknown) => {
      if (!(again instanceof Error) || again.name !== 'InstanceStateError') throw again;
    });
    return 1;
  }
}

describe('a crash in the replay, skip and retry flows', () => {
  for (const point of FAULT_POINTS) {
    it(
      `at ${point}: one clone per replay and retry, one cascade per skip, nothing lost`,
      async () => {
        const calls = new Map<string, number>();
        const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1);
        const handlers: Record<string, TaskHandler> = {
          flaky: (ctx) => {
            count(`flaky:${ctx.sessionId}`);
            if ((ctx.kwargs.go as Kwargs | undefined)?.fixed !== true) throw new Error('broken');
            return { fixed: true };
          },
          next: (ctx) => {
            count(`next:${ctx.sessionId}`);
            return { got: ctx.kwargs };
          },
          retrier: (ctx) => {
            count(`retrier:${ctx.sessionId}`);
            if (ctx.attempt === 0) throw new Retry();
            return { attempt: ctx.attempt };
          },
        };
        // Replay and skip crash only once armed (after their instance failed); the retry
        // session's evaluator crash is its second commit (the one applying the clone request).
        const armed = new Set<string>();
        const crashed: Array<{ session: string; site: FaultSite }> = [];
        const commits = new Map<string, number>();
        const rt = await createTestRuntime({
          workflow: WORKFLOW,
          handlers,
          backend,
          faults: (p, site) => {
            if (p !== point) return;
            const flow = site.sessionId;
            if (crashed.some((c) => c.session === flow)) return;
            let hit: boolean;
            if (point === 'evaluator.afterCommit' || point === 'evaluator.afterSend') {
              // The retry session's second evaluation (and, after the commit, its sends) is
              // the one applying the clone request.
              const n = (commits.get(flow) ?? 0) + 1;
              commits.set(flow, n);
              hit = flow === 'retry' ? n === 2 : armed.has(flow);
            } else if (point === 'ingest.afterEventWrite') {
              hit = armed.has(flow);
            } else {
              hit = site.instance === TARGET[flow]?.[point];
            }
            if (!hit) return;
            crashed.push({ session: flow, site });
            throw new InjectedFault(point);
          },
        });
        try {
          const replay = rt.session('replay');
          const skip = rt.session('skip');
          const retry = rt.session('retry');
          await replay.fire('go', {});
          await skip.fire('go', {});
          await retry.fire('again', {});
          await rt.settle(SETTLE);
          expect((await replay.instance('t_f#0'))?.status).toBe('failed');
          expect((await skip.instance('t_f#0'))?.status).toBe('failed');

          armed.add('replay');
          armed.add('skip');
          const replayCrashes = await retrying(() =>
            replay.replayFailed('t_f#0', { go: { fixed: true } }),
          );
          const skipCrashes = await retrying(() =>
            skip.skipFailed('t_f#0', { cascade: true, result: { stand: 'in' } }),
          );
          await rt.settle(SETTLE);

          // The crash happened where it was armed, once per flow that has this point.
          const sessions = crashed.map((c) => c.session).sort();
          expect(sessions).toEqual(
            point === 'ingest.afterEventWrite' ? ['replay', 'skip'] : ['replay', 'retry', 'skip'],
          );
          expect(replayCrashes).toBe(point === 'ingest.afterEventWrite' ? 1 : 0);
          expect(skipCrashes).toBe(point === 'ingest.afterEventWrite' ? 1 : 0);
          const twiceIfAfterHandler = point === 'task.afterHandler' ? 1 : 0;

          // Replay: one clone, which finished; its cascade ran the next task once.
          expect(await statuses(replay)).toEqual({
            't_f#0': 'replayed',
            't_f#1': 'finished',
            't_next#0': 'finished',
          });
          expect((await replay.instance('t_f#1'))?.kwargs).toEqual({ go: { fixed: true } });
          expect(calls.get('flaky:replay')).toBe(2 + twiceIfAfterHandler);
          expect(calls.get('next:replay')).toBe(1);

          // Skip: skipped, its result cascaded once.
          expect(await statuses(skip)).toEqual({ 't_f#0': 'skipped', 't_next#0': 'finished' });
          expect((await skip.instance('t_next#0'))?.kwargs).toEqual({ t_f: { stand: 'in' } });
          expect(calls.get('flaky:skip')).toBe(1);
          expect(calls.get('next:skip')).toBe(1 + twiceIfAfterHandler);

          // Retry: one clone request, one clone, one cascade.
          expect(await statuses(retry)).toEqual({
            't_r#0': 'replayed',
            't_r#1': 'finished',
            't_after_r#0': 'finished',
          });
          expect((await retry.instance('t_r#1'))?.result).toEqual({ attempt: 1 });
          expect(calls.get('retrier:retry')).toBe(2 + twiceIfAfterHandler);
          expect(calls.get('next:retry')).toBe(1);
          for (const s of [replay, skip, retry]) expect(await s.unresolvedInstances()).toEqual([]);
        } finally {
          await rt.close();
        }
      },
      timeout(point),
    );
  }
});
