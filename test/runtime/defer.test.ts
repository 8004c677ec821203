/**
 * Cooldowns longer than a queue can delay a message travel as `notBefore`: a message that
 * arrives early is sent on for the rest of its delay, not run.
 */
import { describe, expect, it, vi } from 'vitest';
import { silentSink } from '../../lib/core/log.ts';
import { runInstance, type TaskRunnerDeps } from '../../lib/core/task-runner.ts';
import type { Workflow } from '../../lib/index.ts';
import { type Harness, harness } from './fixtures.ts';

const workflow: Workflow = {
  name: 'defer',
  tasks: { t_alpha: { after: ['go'], run: 'work', using: 'slow-queue' } },
};

async function scheduled(): Promise<Harness> {
  const h = harness(workflow);
  await h.fire('s1', 'go');
  await h.evaluate('s1');
  return h;
}

function deps(h: Harness, handler = vi.fn(() => ({ ok: true }))) {
  const send = vi.fn(async () => {});
  const d: TaskRunnerDeps = {
    store: h.store,
    registry: h.registry,
    clock: h.clock,
    log: silentSink,
    handlerFor: () => handler,
    send,
  };
  return { d, send, handler };
}

describe('a task message with notBefore', () => {
  it('is sent on to its queue for the rest of its delay when it arrives early', async () => {
    const h = await scheduled();
    const { d, send, handler } = deps(h);
    const notBefore = new Date(h.clock.now().getTime() + 3_600_000).toISOString();

    const result = await runInstance(d, { sessionId: 's1', instance: 't_alpha#0', notBefore });

    expect(result).toBe('deferred');
    expect(handler).not.toHaveBeenCalled();
    expect(send).toHaveBeenCalledWith(
      'slow-queue',
      { sessionId: 's1', instance: 't_alpha#0' },
      3600,
    );
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.status).toBe('scheduled');
  });

  it('runs once it is due', async () => {
    const h = await scheduled();
    const { d, send, handler } = deps(h);
    const notBefore = new Date(h.clock.now().getTime() - 1000).toISOString();

    const result = await runInstance(d, { sessionId: 's1', instance: 't_alpha#0', notBefore });

    expect(result).toBe('ran');
    expect(send).not.toHaveBeenCalled();
    expect(handler).toHaveBeenCalledTimes(1);
  });
});
