/**
 * Claims and leases of the task runner: a delivery takes over an instance whose lease lapsed,
 * the run that lost its lease records nothing, and a re-run fires nothing twice.
 */

import { describe, expect, it, vi } from 'vitest';
import { silentSink } from '../../lib/core/log.ts';
import { runInstance, type TaskRunnerDeps } from '../../lib/core/task-runner.ts';
import { readSession } from '../../lib/core/view.ts';
import { InstanceBusyError } from '../../lib/errors.ts';
import type { TaskContext, TaskHandler, Workflow } from '../../lib/index.ts';
import { deferred, firesOf, type Harness, harness } from './fixtures.ts';

const LEASE_SECONDS = 60;

const workflow: Workflow = {
  name: 'lease',
  tasks: {
    t_alpha: { after: ['dataReceived'], run: 'work' },
    t_echo: { after: [], andEvery: 'ping', run: 'work' },
    // Listens to t_alpha, so t_alpha's outcome writes a cascade these tests count.
    t_next: { after: ['t_alpha'], run: 'work' },
  },
};

const message = { sessionId: 's1', instance: 't_alpha#0' };

async function scheduled(): Promise<Harness> {
  const h = harness(workflow);
  await h.fire('s1', 'dataReceived', { answer: 42 });
  await h.evaluate('s1');
  expect((await h.store.getInstance('s1', 't_alpha#0'))?.status, 'precondition').toBe('scheduled');
  return h;
}

function depsFor(h: Harness, handler: TaskHandler): TaskRunnerDeps {
  return {
    store: h.store,
    registry: h.registry,
    clock: h.clock,
    log: silentSink,
    leaseSeconds: LEASE_SECONDS,
    handlerFor: () => handler,
  };
}

/**
 * A handler whose first call blocks until `releaseFirst` (it signals `firstStarted` once it is
 * running) and whose later calls return at once. Call `n` returns `{ run: n }`.
 */
function slowFirstRun(before?: (ctx: TaskContext) => Promise<void>) {
  const firstStarted = deferred();
  const firstRelease = deferred();
  let calls = 0;
  const handler = vi.fn(async (ctx: TaskContext) => {
    calls += 1;
    const run = calls;
    await before?.(ctx);
    if (run === 1) {
      firstStarted.resolve();
      await firstRelease.promise;
    }
    return { run };
  });
  return {
    handler,
    firstStarted: firstStarted.promise,
    releaseFirst: () => firstRelease.resolve(),
  };
}

describe('a running instance whose lease has lapsed', () => {
  it('is claimed by a second delivery, and the first run loses its lease when it commits later', async () => {
    const h = await scheduled();
    const { handler, firstStarted, releaseFirst } = slowFirstRun();
    const deps = depsFor(h, handler);
    const first = runInstance(deps, message);
    await firstStarted;
    h.clock.advance(LEASE_SECONDS + 1);

    const second = await runInstance(deps, message);
    releaseFirst();
    const firstResult = await first;

    expect(second).toBe('ran');
    expect(firstResult).toBe('lost-lease');
    expect(handler).toHaveBeenCalledTimes(2);
    const instance = await h.store.getInstance('s1', 't_alpha#0');
    expect(instance?.status).toBe('finished');
    expect(instance?.result).toEqual({ run: 2 });
    const cascades = await firesOf(h.store, 's1', 't_alpha');
    expect(cascades).toHaveLength(1);
    expect(cascades[0]?.kwargs).toEqual({ run: 2 });
  });

  it('loses its lease even when the slow first run finishes before the run that took it over', async () => {
    const h = await scheduled();
    const firstStarted = deferred();
    const releaseFirst = deferred();
    const secondStarted = deferred();
    const releaseSecond = deferred();
    let calls = 0;
    const deps = depsFor(h, async () => {
      calls += 1;
      const run = calls;
      if (run === 1) {
        firstStarted.resolve();
        await releaseFirst.promise;
      } else {
        secondStarted.resolve();
        await releaseSecond.promise;
      }
      return { run };
    });
    const first = runInstance(deps, message);
    await firstStarted.promise;
    h.clock.advance(LEASE_SECONDS + 1);
    const second = runInstance(deps, message);
    await Promise.race([secondStarted.promise, second]);

    releaseFirst.resolve();
    const firstResult = await first;
    const midway = await h.store.getInstance('s1', 't_alpha#0');
    releaseSecond.resolve();
    const secondResult = await second;

    expect(firstResult).toBe('lost-lease');
    expect(midway?.status).toBe('running');
    expect(secondResult).toBe('ran');
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.result).toEqual({ run: 2 });
    expect(await firesOf(h.store, 's1', 't_alpha')).toHaveLength(1);
  });

  it('keeps the outcome of the run that took it over when that run fails and the first succeeds', async () => {
    const h = await scheduled();
    const firstStarted = deferred();
    const releaseFirst = deferred();
    let calls = 0;
    const deps = depsFor(h, async () => {
      calls += 1;
      if (calls === 1) {
        firstStarted.resolve();
        await releaseFirst.promise;
        return { run: 1 };
      }
      throw new Error('second run broke');
    });
    const first = runInstance(deps, message);
    await firstStarted.promise;
    h.clock.advance(LEASE_SECONDS + 1);

    const second = await runInstance(deps, message);
    releaseFirst.resolve();
    const firstResult = await first;

    expect(second).toBe('ran');
    expect(firstResult).toBe('lost-lease');
    const instance = await h.store.getInstance('s1', 't_alpha#0');
    expect(instance?.status).toBe('failed');
    expect(instance?.error?.message).toBe('second run broke');
    expect(instance?.result).toBeUndefined();
    expect(await firesOf(h.store, 's1', 't_alpha')).toEqual([]);
  });
});

describe('a running instance whose lease has not lapsed', () => {
  it('is not claimed by a second delivery, which runs nothing and keeps its message for later', async () => {
    const h = await scheduled();
    const { handler, firstStarted, releaseFirst } = slowFirstRun();
    const deps = depsFor(h, handler);
    const first = runInstance(deps, message);
    await firstStarted;
    h.clock.advance(LEASE_SECONDS - 1);

    // Busy, not done: acknowledging it would lose the task if the first run then died.
    const second = await runInstance(deps, message).catch((e: unknown) => e);
    releaseFirst();
    const firstResult = await first;
    const later = await runInstance(deps, message);

    expect(second).toBeInstanceOf(InstanceBusyError);
    expect(firstResult).toBe('ran');
    expect(later).toBe('duplicate');
    expect(handler).toHaveBeenCalledTimes(1);
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.result).toEqual({ run: 1 });
    expect(await firesOf(h.store, 's1', 't_alpha')).toHaveLength(1);
  });
});

describe('a resolved instance', () => {
  it('is not claimed again however much time passes', async () => {
    const h = await scheduled();
    const handler = vi.fn(async () => ({ done: true }));
    const deps = depsFor(h, handler);
    await runInstance(deps, message);
    h.clock.advance(LEASE_SECONDS * 100);

    const again = await runInstance(deps, message);

    expect(again).toBe('duplicate');
    expect(handler).toHaveBeenCalledTimes(1);
  });
});

describe('ctx.fire from a handler', () => {
  it('fires its trigger only once when the handler is re-run after a lapsed lease', async () => {
    const h = await scheduled();
    const { handler, firstStarted, releaseFirst } = slowFirstRun(async (ctx) => {
      await ctx.fire('ping', { from: ctx.instance });
    });
    const deps = depsFor(h, handler);
    const first = runInstance(deps, message);
    await firstStarted;
    h.clock.advance(LEASE_SECONDS + 1);

    await runInstance(deps, message);
    releaseFirst();
    await first;
    await h.evaluate('s1');

    expect(handler).toHaveBeenCalledTimes(2);
    const pings = (await h.store.getEvents('s1', ['fire#t_alpha#0#1', 'fire#t_alpha#0#2'])).size;
    expect(pings).toBe(1);
    const view = await readSession(h, 's1');
    expect(view?.fired.ping).toEqual({ count: 1 });
    expect(view?.instances.filter((i) => i.task === 't_echo').map((i) => i.name)).toEqual([
      't_echo#0',
    ]);
  });

  it('fires each of several calls in one run as its own event', async () => {
    const h = await scheduled();
    const deps = depsFor(h, async (ctx) => {
      await ctx.fire('ping', { n: 1 });
      await ctx.fire('ping', { n: 2 });
      return {};
    });

    await runInstance(deps, message);
    await h.evaluate('s1');

    const view = await readSession(h, 's1');
    expect(view?.fired.ping).toEqual({ count: 2 });
    const echoes = view?.instances.filter((i) => i.task === 't_echo') ?? [];
    expect(echoes.map((i) => i.kwargs)).toEqual([{ ping: { n: 1 } }, { ping: { n: 2 } }]);
  });
});
