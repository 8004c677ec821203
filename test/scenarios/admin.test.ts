/**
 * Instance administration through the test runtime: `updateMetadata` (the original's
 * `test_update_task_metadata`), `resolveLogs` and `setStatus` (settling an instance by hand,
 * with a cascade when it is marked finished), and their refusals.
 */
import { describe, expect, it } from 'vitest';
import {
  InstanceStateError,
  type InstanceStatus,
  NotFoundError,
  Skip,
  ValidationError,
} from '../../lib/index.ts';
import {
  deferred,
  expectFailed,
  expectFinished,
  expectMissing,
  expectSkipped,
  expectStatus,
  expectUnresolved,
  fireAndSettle,
  startSession,
  waitUntil,
} from './harness.ts';

const failingChain = {
  t_alpha: { after: ['go'], run: 'failing' },
  t_bravo: { after: ['t_alpha'], run: 'passThru' },
};

describe('updateMetadata', () => {
  it('merges into a finished instance without changing its status, bumping updatedAt', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['__marketingOptIn'], run: 'devNull' },
    });
    await fireAndSettle(rt, s, '__marketingOptIn');
    const before = await expectFinished(s, 't_alpha#0', {});
    await rt.advance('1m');

    await s.updateMetadata('t_alpha#0', { foo: 'bar', baz: 'luhrmann' });
    await rt.settle();

    const after = await expectFinished(s, 't_alpha#0', {});
    expect(after.metadata).toEqual({ foo: 'bar', baz: 'luhrmann' });
    expect(Date.parse(after.updatedAt)).toBeGreaterThan(Date.parse(before.updatedAt));
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.kwargs).toEqual(before.kwargs);
  });

  it('merges at the top level, keeping the keys it does not name', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'skipper' } },
      {
        skipper: () => {
          throw new Skip({ reason: 'empty', nested: { a: 1 } });
        },
      },
    );
    await fireAndSettle(rt, s, 'go');

    await s.updateMetadata('t_alpha#0', { note: 'checked', nested: { b: 2 } });
    await rt.settle();

    const after = await expectSkipped(s, 't_alpha#0');
    expect(after.metadata).toEqual({ reason: 'empty', note: 'checked', nested: { b: 2 } });
  });

  it('works on an instance still waiting for triggers', async () => {
    const { rt, s } = await startSession({ t_wait: { after: ['a', 'b'], run: 'devNull' } });
    await fireAndSettle(rt, s, 'a');

    await s.updateMetadata('t_wait#0', { owner: 'ops' });
    await rt.settle();

    const after = await expectStatus(s, 't_wait#0', 'unstarted');
    expect(after.metadata).toEqual({ owner: 'ops' });
  });

  it('gives the same result when the same update is sent twice', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await s.updateMetadata('t_alpha#0', { ticket: 'OPS-1' });
    await rt.settle();
    const once = await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
    await s.updateMetadata('t_alpha#0', { ticket: 'OPS-1' });
    await rt.settle();

    const twice = await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
    expect(twice.metadata).toEqual({ ticket: 'OPS-1' });
    expect(twice.metadata).toEqual(once.metadata);
    expect(twice.error).toEqual(once.error);
  });

  it('is refused with NotFoundError for an unknown instance or session', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await expect(s.updateMetadata('t_alpha#7', { a: 1 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(rt.session('nobody').updateMetadata('t_alpha#0', { a: 1 })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('resolveLogs', () => {
  it('marks the logs of an instance that logged a warning as resolved, and nothing else', async () => {
    const { rt, s } = await startSession(
      { t_loud: { after: ['go'], run: 'loud' } },
      {
        loud: (ctx) => {
          ctx.logger.warn('odd input', { field: 'age' });
          return { ok: true };
        },
      },
    );
    await fireAndSettle(rt, s, 'go');
    const before = await expectFinished(s, 't_loud#0', { ok: true });
    expect(before.logLevel).toBe('warn');
    expect(before.logsResolved).not.toBe(true);

    await s.resolveLogs('t_loud#0');
    await rt.settle();

    const after = await expectFinished(s, 't_loud#0', { ok: true });
    expect(after.logsResolved).toBe(true);
    expect(after.logLevel).toBe('warn');
  });

  it('is refused with NotFoundError for an unknown instance', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await expect(s.resolveLogs('t_bravo#0')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('setStatus', () => {
  it('marks a failed instance finished with a cascade that runs the dependant with cascadeKwargs', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await s.setStatus('t_alpha#0', 'finished', {
      metadata: { by: 'ops' },
      cascade: true,
      cascadeKwargs: { fixed: true },
    });
    await rt.settle();

    const alpha = await expectFinished(s, 't_alpha#0');
    expect(alpha.metadata).toEqual({ by: 'ops' });
    await expectFinished(s, 't_bravo#0', { kwargs: { t_alpha: { fixed: true } } });
    await expectUnresolved(s, [], []);
  });

  it('marks a failed instance finished without a cascade when not asked for one', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await s.setStatus('t_alpha#0', 'finished');
    await rt.settle();

    await expectFinished(s, 't_alpha#0');
    await expectMissing(s, 't_bravo#0');
  });

  it('marks a failed instance skipped', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await s.setStatus('t_alpha#0', 'skipped');
    await rt.settle();

    await expectSkipped(s, 't_alpha#0');
    await expectMissing(s, 't_bravo#0');
    await expectUnresolved(s, ['t_bravo'], []);
  });

  it('refuses a cascade with any status but finished, changing nothing', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await expect(s.setStatus('t_alpha#0', 'skipped', { cascade: true })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await rt.settle();

    await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
    await expectMissing(s, 't_bravo#0');
  });

  it('refuses a status that is not one of the statuses', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await expect(s.setStatus('t_alpha#0', 'done' as InstanceStatus)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await rt.settle();

    await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
  });

  it('is refused with NotFoundError for an unknown instance', async () => {
    const { rt, s } = await startSession(failingChain);
    await fireAndSettle(rt, s, 'go');

    await expect(s.setStatus('t_alpha#3', 'finished')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('is refused with InstanceStateError while the instance runs, which then ends as its handler says', async () => {
    const gate = deferred();
    const { rt, s } = await startSession(
      {
        t_slow: { after: ['go'], run: 'slow' },
        t_next: { after: ['t_slow'], run: 'passThru' },
      },
      {
        slow: async () => {
          await gate.promise;
          return { done: 'by handler' };
        },
      },
    );
    await s.fire('go');
    await waitUntil(
      't_slow#0 is running',
      async () => (await s.instance('t_slow#0'))?.status === 'running',
    );

    await expect(
      s.setStatus('t_slow#0', 'finished', { cascade: true, cascadeKwargs: { done: 'by hand' } }),
    ).rejects.toBeInstanceOf(InstanceStateError);
    gate.resolve();
    await rt.settle();

    await expectFinished(s, 't_slow#0', { done: 'by handler' });
    await expectFinished(s, 't_next#0', { kwargs: { t_slow: { done: 'by handler' } } });
    expect((await s.instances()).map((i) => i.name).sort()).toEqual(['t_next#0', 't_slow#0']);
  });
});
