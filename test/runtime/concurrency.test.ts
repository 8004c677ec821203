import { afterEach, describe, expect, it } from 'vitest';
import type { TaskHandler } from '../../lib/index.ts';
import { createTestRuntime, type TestRuntime } from '../../lib/testing/index.ts';

let rt: TestRuntime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('the memory runtime under concurrency', () => {
  it('resolves fire() once the event is accepted, while the handler is still running', async () => {
    const release = gate();
    const started = gate();
    rt = await createTestRuntime({
      workflow: { t_slow: { after: ['go'], run: 'slow' } },
      handlers: {
        slow: async () => {
          started.open();
          await release.opened;
          return { done: true };
        },
      },
    });
    const s = rt.session('s1');

    await s.fire('go');
    await started.opened;

    expect((await s.instance('t_slow#0'))?.status).toBe('running');
    release.open();
    await rt.settle();
    expect((await s.instance('t_slow#0'))?.status).toBe('finished');
  });

  it('runs each of 50 concurrent andEvery fires exactly once', async () => {
    let runs = 0;
    const count: TaskHandler = ({ kwargs }) => {
      runs += 1;
      return { page: kwargs.page?.n };
    };
    rt = await createTestRuntime({
      workflow: { t_page: { after: [], andEvery: 'page', run: 'count' } },
      handlers: { count },
    });
    const s = rt.session('s1');

    await Promise.all(Array.from({ length: 50 }, (_, n) => s.fire('page', { n })));
    await rt.settle();

    const instances = await s.instances();
    expect(instances).toHaveLength(50);
    expect(runs).toBe(50);
    expect(instances.every((i) => i.status === 'finished')).toBe(true);
    const pages = instances.map((i) => i.result?.page as number).sort((a, b) => a - b);
    expect(pages).toEqual(Array.from({ length: 50 }, (_, n) => n));
  });

  it('turns two replays of one failed instance, sent together, into one clone', async () => {
    let calls = 0;
    rt = await createTestRuntime({
      workflow: { t_flaky: { after: ['go'], run: 'flaky' } },
      handlers: {
        flaky: () => {
          calls += 1;
          if (calls === 1) throw new Error('first run fails');
          return {};
        },
      },
    });
    const s = rt.session('s1');
    await s.fire('go');
    await rt.settle();
    expect((await s.instance('t_flaky#0'))?.status).toBe('failed');

    await Promise.all([s.replayFailed('t_flaky#0'), s.replayFailed('t_flaky#0')]);
    await rt.settle();

    expect((await s.instance('t_flaky#0'))?.status).toBe('replayed');
    expect((await s.instance('t_flaky#1'))?.status).toBe('finished');
    expect(await s.instance('t_flaky#2')).toBeUndefined();
    expect(calls).toBe(2);
  });

  it('keeps sessions fired concurrently apart', async () => {
    rt = await createTestRuntime({
      workflow: { t_sum: { after: ['a', 'b'], run: 'sum' } },
      handlers: {
        sum: ({ kwargs }) => ({ total: (kwargs.a?.v as number) + (kwargs.b?.v as number) }),
      },
    });
    const runtime = rt;
    const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);

    await Promise.all(
      ids.flatMap((id, i) => [
        runtime.session(id).fire('a', { v: i }),
        runtime.session(id).fire('b', { v: 100 * i }),
      ]),
    );
    await rt.settle();

    for (const [i, id] of ids.entries()) {
      expect((await runtime.session(id).instance('t_sum#0'))?.result).toEqual({ total: 101 * i });
    }
  });
});

describe('a closed test runtime', () => {
  it('refuses new fires but still answers reads', async () => {
    const closing = await createTestRuntime({
      workflow: { t_a: { after: ['go'], run: 'h' } },
      handlers: { h: () => ({}) },
    });
    const s = closing.session('s1');
    await s.fire('go');
    await closing.settle();

    await closing.close();

    await expect(s.fire('go', {}, { eventId: 'late' })).rejects.toThrow(/closed/);
    expect((await s.instance('t_a#0'))?.status).toBe('finished');
  });
});
