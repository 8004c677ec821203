/**
 * `unless`: abandoning instances that have not been scheduled yet, and never the ones already
 * scheduled or running; order of arrival against `after`.
 */
import { describe, expect, it } from 'vitest';
import type { TaskHandler } from '../../lib/index.ts';
import {
  deferred,
  expectAbandoned,
  expectFinished,
  expectMissing,
  expectReplayed,
  expectStatus,
  expectUnresolved,
  expectUnstarted,
  fireAndSettle,
  startSession,
  waitUntil,
} from './harness.ts';

describe('a task with unless', () => {
  it('is abandoned when its unless trigger fires first, and stays abandoned when after fires', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['__sessionFinalized'],
        unless: ['__finalizedWithoutSteps'],
        run: 'devNull',
      },
    });

    await fireAndSettle(rt, s, '__finalizedWithoutSteps');

    await expectAbandoned(s, 't_alpha#0');
    await expectUnresolved(s, [], []);

    await fireAndSettle(rt, s, '__sessionFinalized');

    await expectAbandoned(s, 't_alpha#0');
    await expectMissing(s, 't_alpha#1');
    await expectUnresolved(s, [], []);
  });

  it('is abandoned only once all of its unless triggers fired', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['dataReceived', '__sessionFinalized'],
        unless: ['e_bureauCheck', '__finalizedWithoutSteps'],
        run: 'devNull',
      },
    });

    await fireAndSettle(rt, s, '__finalizedWithoutSteps');

    await expectUnstarted(s, 't_alpha#0');
    await expectUnresolved(s, ['t_alpha'], ['t_alpha#0']);

    await fireAndSettle(rt, s, '__sessionFinalized');

    await expectUnstarted(s, 't_alpha#0');
    await expectUnresolved(s, ['t_alpha'], ['t_alpha#0']);

    await fireAndSettle(rt, s, 'e_bureauCheck');

    await expectAbandoned(s, 't_alpha#0');
    await expectUnresolved(s, [], []);

    await fireAndSettle(rt, s, 'dataReceived');

    await expectAbandoned(s, 't_alpha#0');
    await expectUnresolved(s, [], []);
  });

  it('abandons every waiting andEvery instance when unless fires before they can run', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['creditsDepleted'],
        andEvery: '_finishStep',
        unless: ['__deviceDisabled'],
        run: 'devNull',
      },
    });

    await s.fire('_finishStep');
    await s.fire('_finishStep');
    await s.fire('_finishStep');
    await s.fire('__deviceDisabled');
    await s.fire('creditsDepleted');
    await rt.settle();

    await expectAbandoned(s, 't_alpha#0');
    await expectAbandoned(s, 't_alpha#1');
    await expectAbandoned(s, 't_alpha#2');
    await expectMissing(s, 't_alpha#3');
    await expectUnresolved(s, [], []);
  });

  it('lets an instance scheduled before unless was satisfied finish, and abandons later ones at once', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['creditsDepleted'],
        andEvery: '_finishStep',
        unless: ['__deviceDisabled'],
        run: 'devNull',
      },
    });

    await s.fire('creditsDepleted');
    await s.fire('_finishStep');
    await s.fire('__deviceDisabled');
    await s.fire('_finishStep');
    await rt.settle();

    await expectFinished(s, 't_alpha#0', {});
    await expectAbandoned(s, 't_alpha#1');
    await expectUnresolved(s, [], []);
  });

  it('lets an instance that is running when unless is satisfied run to finished', async () => {
    const gate = deferred();
    let runs = 0;
    const slow: TaskHandler = async () => {
      runs += 1;
      await gate.promise;
      return { done: true };
    };
    const { rt, s } = await startSession(
      {
        t_slow: { after: ['go'], unless: ['stop'], run: 'slow' },
        // Observes that `stop` has been applied to the session.
        t_probe: { after: ['stop'], run: 'devNull' },
      },
      { slow },
    );

    try {
      await s.fire('go');
      await waitUntil('t_slow#0 is running', async () => {
        return (await s.instance('t_slow#0'))?.status === 'running';
      });

      await s.fire('stop');
      await waitUntil('the stop trigger has been applied', async () => {
        return (await s.instance('t_probe#0'))?.status === 'finished';
      });

      await expectStatus(s, 't_slow#0', 'running');
    } finally {
      gate.resolve();
    }
    await rt.settle();

    await expectFinished(s, 't_slow#0', { done: true });
    expect(runs).toBe(1);
    await expectMissing(s, 't_slow#1');
    await expectUnresolved(s, [], []);
  });

  it('keeps a finished andEvery instance and abandons the one created after unless was satisfied', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: [], andEvery: 'tick', unless: ['stop'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'tick', { n: 1 });
    await fireAndSettle(rt, s, 'stop');
    await fireAndSettle(rt, s, 'tick', { n: 2 });

    await expectFinished(s, 't_alpha#0', { kwargs: { tick: { n: 1 } } });
    await expectAbandoned(s, 't_alpha#1');
    await expectUnresolved(s, [], []);
  });
});

describe('clones and unless', () => {
  it('a replay clone is scheduled without a new unless check', async () => {
    const flaky: TaskHandler = (ctx) => {
      if (ctx.attempt === 0) throw new Error('first attempt fails');
      return { attempt: ctx.attempt };
    };
    const { rt, s } = await startSession(
      {
        t_alpha: { after: ['dataReceived'], unless: ['e_bureauCheck'], run: 'flaky' },
      },
      { flaky },
    );

    await fireAndSettle(rt, s, 'dataReceived');
    await expectStatus(s, 't_alpha#0', 'failed');

    await fireAndSettle(rt, s, 'e_bureauCheck');
    // A failed instance is not unstarted: unless does not touch it.
    await expectStatus(s, 't_alpha#0', 'failed');

    await s.replayFailed('t_alpha#0');
    await rt.settle();

    await expectReplayed(s, 't_alpha#0');
    await expectFinished(s, 't_alpha#1', { attempt: 1 });
    await expectUnresolved(s, [], []);
  });
});
