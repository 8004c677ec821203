/**
 * Lifecycle hooks under crashes: a component crashes once, its event source retries it as AWS
 * would, and the hooks hear exactly what a run without the crash heard. The notes ride in the
 * head the evaluation commits, and a retry never commits an applied event again, so a crash
 * neither loses nor doubles a lifecycle event.
 */
import { describe, expect, it } from 'vitest';
import type { TaskConfig } from '../../lib/index.ts';
import {
  crashOnce,
  createTestRuntime,
  type FaultPoint,
  InjectedFault,
  type LifecycleHooks,
} from '../../lib/testing/index.ts';
import { backend } from './harness.ts';

const WORKFLOW: Record<string, TaskConfig> = {
  t_a: { after: ['go'], run: 'ok' },
  t_b: { after: ['t_a'], run: 'boom' },
  t_c: { after: ['t_b'], run: 'ok' },
};

/** The points of the flows a session's lifecycle passes through. */
const POINTS: readonly FaultPoint[] = [
  'ingest.afterEventWrite',
  'evaluator.afterCommit',
  'dispatcher.beforeSend',
  'evaluator.afterSend',
  'task.afterHandler',
];

const SETTLE = { timeoutMs: 60_000 };

/** Runs go → t_a → t_b (fails) → skip with cascade → t_c, and returns what the hooks heard. */
async function heard(point?: FaultPoint): Promise<string[]> {
  const log: string[] = [];
  const hooks: LifecycleHooks = {
    afterFire: (e) => log.push(`fire ${e.trigger} [${e.scheduled.join(',')}]`),
    afterFail: (e) => log.push(`fail ${e.instance} ${e.error.message}`),
    afterSkip: (e) => log.push(`skip ${e.instance} ${e.cascade}`),
  };
  const faults = point
    ? crashOnce([point], (site) => site.instance === undefined || site.instance === 't_a#0')
    : undefined;
  const rt = await createTestRuntime({
    workflow: WORKFLOW,
    handlers: {
      ok: () => ({ done: true }),
      boom: () => {
        throw new Error('boom');
      },
    },
    backend,
    hooks,
    ...(faults ? { faults: faults.hook } : {}),
  });
  try {
    const s = rt.session('s1');
    // An HTTP client's retry: the same event id again after the crash.
    for (let attempt = 0; ; attempt++) {
      try {
        await s.fire('go', {}, { eventId: 'go-1' });
        break;
      } catch (err) {
        if (!(err instanceof InjectedFault) || attempt > 0) throw err;
      }
    }
    await rt.settle(SETTLE);
    await s.skipFailed('t_b#0', { cascade: true });
    await rt.settle(SETTLE);
    if (faults) expect(faults.fired.length, `crashed at ${point}`).toBe(1);
    return log;
  } finally {
    await rt.close();
  }
}

describe('lifecycle hooks under a single crash', () => {
  it('hear the session in the original order without a crash', async () => {
    expect(await heard()).toEqual([
      'fire go [t_a#0]',
      'fire t_a [t_b#0]',
      'fail t_b#0 boom',
      'fire t_b [t_c#0]',
      'skip t_b#0 true',
      'fire t_c []',
    ]);
  });

  for (const point of POINTS) {
    it(
      `hear each event once when the flow crashes at ${point}`,
      async () => {
        expect(await heard(point)).toEqual(await heard());
      },
      backend === 'dynamodb-local' ? 120_000 : 20_000,
    );
  }
});
