/**
 * Kwargs and results are data of the application, not of the logs: a whole session (fires,
 * cascades, a failure, a replay with replacement kwargs, a skip with a result), refused requests
 * and an internal failure of the API log no kwargs or result at info level or above.
 */
import { describe, expect, it } from 'vitest';
import { createHttpApi } from '../../lib/core/http.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { defineWorkflow, type TaskHandler } from '../../lib/index.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import type { SessionStore } from '../../lib/store/port.ts';
import { createTestRuntime } from '../../lib/testing/index.ts';

const SECRETS = ['kwarg-secret-4711', 'result-secret-0815', 'replay-secret-1234', 'skip-secret-9'];
const LOUD = new Set(['info', 'warn', 'error']);

const workflow = defineWorkflow('private', {
  t_a: { after: ['go'], run: 'leaky' },
  t_b: { after: ['t_a'], run: 'fails' },
  t_c: { after: ['t_b'], run: 'plain' },
});

const handlers: Record<string, TaskHandler> = {
  leaky: ({ kwargs, logger }) => {
    logger.info('computing');
    return { token: `result-secret-0815 for ${JSON.stringify(kwargs.go)}` };
  },
  fails: ({ kwargs, logger }) => {
    logger.warn('about to fail');
    if (kwargs.t_a && !('fixed' in (kwargs.t_a as object))) throw new Error('no luck this time');
    return {};
  },
  plain: () => ({}),
};

/** Entries at info or above that carry any of the secrets anywhere. */
function leaks(entries: LogEntry[]): LogEntry[] {
  return entries.filter(
    (e) => LOUD.has(e.level) && SECRETS.some((s) => JSON.stringify(e).includes(s)),
  );
}

describe('what the runtime logs', () => {
  it('carries no kwargs or result of a whole session at info level or above', async () => {
    const entries: LogEntry[] = [];
    const rt = await createTestRuntime({ workflow, handlers, log: (e) => entries.push(e) });
    const s = rt.session('s1');
    await s.fire('go', { password: 'kwarg-secret-4711' });
    await rt.settle();
    expect((await s.instance('t_b#0'))?.status).toBe('failed');
    await s.replayFailed('t_b#0', { t_a: { fixed: 'replay-secret-1234' } });
    await rt.settle();
    const s2 = rt.session('s2');
    await s2.fire('go', { password: 'kwarg-secret-4711' });
    await rt.settle();
    await s2.skipFailed('t_b#0', { cascade: true, result: { note: 'skip-secret-9' } });
    await rt.settle();
    // A replay of an instance that is not failed any more is refused and logged as a warning.
    await s.replayFailed('t_b#0').catch(() => {});
    await rt.settle();
    expect((await s.instance('t_c#0'))?.status).toBe('finished');
    expect((await s2.instance('t_c#0'))?.status).toBe('finished');
    await rt.close();

    expect(entries.filter((e) => LOUD.has(e.level)).length).toBeGreaterThanOrEqual(4);
    expect(leaks(entries)).toEqual([]);
  });

  it('logs an internal API failure with the method and path, never the body', async () => {
    const entries: LogEntry[] = [];
    const failing = new MemoryStore();
    failing.putEvent = () => Promise.reject(new Error('disk on fire'));
    const api = createHttpApi({
      store: failing as SessionStore,
      registry: new WorkflowRegistry([workflow]),
      clock: { now: () => new Date('2026-11-27T10:00:00Z') },
      log: (e) => entries.push(e),
    });

    const res = await api.handle({
      method: 'POST',
      path: '/sessions/s1/events',
      headers: {},
      body: JSON.stringify({ trigger: 'go', kwargs: { password: 'kwarg-secret-4711' } }),
    });
    const refused = await api.handle({
      method: 'POST',
      path: '/sessions/s1/events',
      headers: {},
      body: JSON.stringify({ trigger: 'bad name', kwargs: { password: 'kwarg-secret-4711' } }),
    });

    expect(res.status).toBe(500);
    expect(refused.status).toBe(400);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      level: 'error',
      method: 'POST',
      path: '/sessions/s1/events',
    });
    expect(leaks(entries)).toEqual([]);
    expect(res.body).not.toContain('kwarg-secret');
  });
});
