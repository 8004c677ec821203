/**
 * Recovering failed instances: replayFailed (with and without replacement kwargs, of a replay
 * clone, beyond maxRetries) and skipFailed (with and without cascade), and refusals.
 */
import { describe, expect, it } from 'vitest';
import { InstanceStateError, NotFoundError, type TaskHandler } from '../../lib/index.ts';
import {
  expectFailed,
  expectFinished,
  expectMissing,
  expectReplayed,
  expectSkipped,
  expectUnresolved,
  fireAndSettle,
  startSession,
} from './harness.ts';

/** A handler that fails until the test "fixes the problem", then passes its kwargs through. */
function repairable(): { handler: TaskHandler; repair: () => void } {
  let broken = true;
  return {
    handler: (ctx) => {
      if (broken) throw new Error('stored data is broken');
      return { kwargs: ctx.kwargs };
    },
    repair: () => {
      broken = false;
    },
  };
}

const chain = {
  t_alpha: { after: ['dataReceived'], run: 'repairable' },
  t_bravo: { after: ['t_alpha'], run: 'passThru' },
};

describe('replaying a failed instance', () => {
  it('marks it replayed and runs a clone with the same kwargs, which cascades as usual', async () => {
    const { handler, repair } = repairable();
    const { rt, s } = await startSession(chain, { repairable: handler });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFailed(s, 't_alpha#0', 'Error');
    await expectMissing(s, 't_bravo#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo'], ['t_alpha#0']);

    repair();
    await s.replayFailed('t_alpha#0');
    await rt.settle();

    await expectReplayed(s, 't_alpha#0');
    const clone = await expectFinished(s, 't_alpha#1', { kwargs: { dataReceived: {} } });
    expect(clone.parent).toBe('t_alpha#0');
    expect(clone.attempt).toBe(1);
    expect(clone.kwargs).toEqual({ dataReceived: {} });
    await expectFinished(s, 't_bravo#0', {
      kwargs: { t_alpha: { kwargs: { dataReceived: {} } } },
    });
    await expectUnresolved(s, [], []);
  });

  it('with replacement kwargs replaces all the kwargs, keys that are not triggers included', async () => {
    const { handler, repair } = repairable();
    const { rt, s } = await startSession(chain, { repairable: handler });

    await fireAndSettle(rt, s, 'dataReceived', { random: 'filbert' });

    await expectFailed(s, 't_alpha#0', 'Error');
    await expectMissing(s, 't_bravo#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo'], ['t_alpha#0']);

    repair();
    await s.replayFailed('t_alpha#0', {
      dataReceived: { name: 'Princess Luna' },
      extra: { unused: true },
    });
    await rt.settle();

    await expectReplayed(s, 't_alpha#0');
    const expected = {
      kwargs: { dataReceived: { name: 'Princess Luna' }, extra: { unused: true } },
    };
    const clone = await expectFinished(s, 't_alpha#1', expected);
    expect(clone.kwargs).toEqual(expected.kwargs);
    const original = await s.instance('t_alpha#0');
    expect(original?.kwargs).toEqual({ dataReceived: { random: 'filbert' } });
    await expectFinished(s, 't_bravo#0', { kwargs: { t_alpha: expected } });
    await expectUnresolved(s, [], []);
  });

  it('of a handler that still fails leaves the clone failed and unresolved', async () => {
    const { rt, s } = await startSession({
      t_failingTask: { after: ['fail'], run: 'failing' },
    });

    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#0', 'RuntimeFailure');

    await s.replayFailed('t_failingTask#0');
    await rt.settle();

    await expectReplayed(s, 't_failingTask#0');
    const clone = await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');
    expect(clone.parent).toBe('t_failingTask#0');
    await expectUnresolved(s, ['t_failingTask'], ['t_failingTask#1']);
  });

  it('of a replay clone chains parents and attempts', async () => {
    const flaky: TaskHandler = (ctx) => {
      if (ctx.attempt < 2) throw new Error(`attempt ${ctx.attempt} fails`);
      return { attempt: ctx.attempt };
    };
    const { rt, s } = await startSession(
      { t_alpha: { after: ['dataReceived'], run: 'flaky' } },
      { flaky },
    );

    await fireAndSettle(rt, s, 'dataReceived', { id: 7 });
    await expectFailed(s, 't_alpha#0', 'Error');

    await s.replayFailed('t_alpha#0');
    await rt.settle();

    await expectReplayed(s, 't_alpha#0');
    const first = await expectFailed(s, 't_alpha#1', 'Error');
    expect(first.parent).toBe('t_alpha#0');
    expect(first.attempt).toBe(1);
    expect(first.error?.message).toBe('attempt 1 fails');

    await s.replayFailed('t_alpha#1');
    await rt.settle();

    await expectReplayed(s, 't_alpha#1');
    const second = await expectFinished(s, 't_alpha#2', { attempt: 2 });
    expect(second.parent).toBe('t_alpha#1');
    expect(second.attempt).toBe(2);
    expect(second.kwargs).toEqual({ dataReceived: { id: 7 } });
    await expectUnresolved(s, [], []);
  });

  it('is allowed beyond maxRetries, which limits only a handler’s own Retry', async () => {
    const flaky: TaskHandler = (ctx) => {
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
      return { attempt: ctx.attempt };
    };
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'flaky', maxRetries: 1 } },
      { flaky },
    );

    await fireAndSettle(rt, s, 'go');
    for (const name of ['t_alpha#0', 't_alpha#1', 't_alpha#2']) {
      await expectFailed(s, name, 'Error');
      await s.replayFailed(name);
      await rt.settle();
    }

    await expectFinished(s, 't_alpha#3', { attempt: 3 });
    await expectUnresolved(s, [], []);
  });

  it('is refused with InstanceStateError for an instance that did not fail, changing nothing', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'passThru' },
    });
    await fireAndSettle(rt, s, 'dataReceived');
    const before = await expectFinished(s, 't_alpha#0');

    await expect(s.replayFailed('t_alpha#0')).rejects.toBeInstanceOf(InstanceStateError);
    await rt.settle();

    expect(await s.instance('t_alpha#0')).toEqual(before);
    await expectMissing(s, 't_alpha#1');
  });

  it('is refused with InstanceStateError for an unstarted instance', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived', 'creditsDepleted'], run: 'passThru' },
    });
    await fireAndSettle(rt, s, 'dataReceived');

    await expect(s.replayFailed('t_alpha#0')).rejects.toBeInstanceOf(InstanceStateError);
    await rt.settle();

    const instance = await s.instance('t_alpha#0');
    expect(instance?.status).toBe('unstarted');
    await expectMissing(s, 't_alpha#1');
  });

  it('is refused with NotFoundError for an unknown instance', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'passThru' },
    });
    await fireAndSettle(rt, s, 'dataReceived');

    await expect(s.replayFailed('t_alpha#5')).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.replayFailed('t_nothing#0')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('is refused with InstanceStateError for an instance already replayed', async () => {
    const { rt, s } = await startSession({
      t_failingTask: { after: ['fail'], run: 'failing' },
    });
    await fireAndSettle(rt, s, 'fail');
    await s.replayFailed('t_failingTask#0');
    await rt.settle();
    await expectReplayed(s, 't_failingTask#0');

    await expect(s.replayFailed('t_failingTask#0')).rejects.toBeInstanceOf(InstanceStateError);
    await rt.settle();

    await expectMissing(s, 't_failingTask#2');
  });
});

describe('skipping a failed instance', () => {
  it('marks it skipped without a cascade, leaving the dependent unresolved', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'failing' },
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
    await expectUnresolved(s, ['t_alpha', 't_bravo'], ['t_alpha#0']);

    await s.skipFailed('t_alpha#0');
    await rt.settle();

    await expectSkipped(s, 't_alpha#0');
    await expectMissing(s, 't_bravo#0');
    await expectMissing(s, 't_alpha#1');
    await expectUnresolved(s, ['t_bravo'], []);
  });

  it('with cascade fires the task name with the given result', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'failing' },
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'dataReceived');
    await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
    await expectUnresolved(s, ['t_alpha', 't_bravo'], ['t_alpha#0']);

    await s.skipFailed('t_alpha#0', {
      cascade: true,
      result: { rating: '4.5', popularity: '0.7' },
    });
    await rt.settle();

    await expectSkipped(s, 't_alpha#0');
    await expectFinished(s, 't_bravo#0', {
      kwargs: { t_alpha: { rating: '4.5', popularity: '0.7' } },
    });
    await expectUnresolved(s, [], []);
  });

  it('with cascade and no result fires the task name with empty kwargs', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'failing' },
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
    });
    await fireAndSettle(rt, s, 'dataReceived');

    await s.skipFailed('t_alpha#0', { cascade: true });
    await rt.settle();

    await expectSkipped(s, 't_alpha#0');
    await expectFinished(s, 't_bravo#0', { kwargs: { t_alpha: {} } });
    await expectUnresolved(s, [], []);
  });

  it('of an andEvery task with cascade feeds a repeating dependent once per skip', async () => {
    const { rt, s } = await startSession({
      t_failingTask: { after: [], andEvery: 'fail', run: 'failing' },
      t_after: { after: [], andEvery: 't_failingTask', run: 'passThru' },
    });

    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#0', 'RuntimeFailure');
    await s.skipFailed('t_failingTask#0', { cascade: false });
    await rt.settle();
    await expectSkipped(s, 't_failingTask#0');
    await expectMissing(s, 't_after#0');

    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');
    await s.skipFailed('t_failingTask#1', { cascade: true, result: { n: 1 } });
    await rt.settle();

    await expectSkipped(s, 't_failingTask#1');
    await expectFinished(s, 't_after#0', { kwargs: { t_failingTask: { n: 1 } } });
    await expectMissing(s, 't_after#1');
    await expectUnresolved(s, [], []);
  });

  it('of a replay clone works like skipping the original', async () => {
    const { rt, s } = await startSession({
      t_failingTask: { after: ['fail'], run: 'failing' },
    });
    await fireAndSettle(rt, s, 'fail');
    await s.replayFailed('t_failingTask#0');
    await rt.settle();
    await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');

    await s.skipFailed('t_failingTask#1');
    await rt.settle();

    await expectReplayed(s, 't_failingTask#0');
    await expectSkipped(s, 't_failingTask#1');
    await expectUnresolved(s, [], []);
  });

  it('is refused with InstanceStateError for an instance that did not fail, changing nothing', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'passThru' },
      t_bravo: { after: [], andEvery: 't_alpha', run: 'devNull' },
    });
    await fireAndSettle(rt, s, 'dataReceived');
    const before = await expectFinished(s, 't_alpha#0');
    await expectFinished(s, 't_bravo#0', {});

    await expect(s.skipFailed('t_alpha#0', { cascade: true })).rejects.toBeInstanceOf(
      InstanceStateError,
    );
    await rt.settle();

    expect(await s.instance('t_alpha#0')).toEqual(before);
    await expectMissing(s, 't_bravo#1');
  });

  it('is refused with InstanceStateError for an instance already skipped', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'failing' },
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
    });
    await fireAndSettle(rt, s, 'dataReceived');
    await s.skipFailed('t_alpha#0');
    await rt.settle();

    await expect(s.skipFailed('t_alpha#0', { cascade: true })).rejects.toBeInstanceOf(
      InstanceStateError,
    );
    await rt.settle();

    await expectSkipped(s, 't_alpha#0');
    await expectMissing(s, 't_bravo#0');
  });

  it('is refused with NotFoundError for an unknown instance', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['dataReceived'], run: 'failing' },
    });
    await fireAndSettle(rt, s, 'dataReceived');

    await expect(s.skipFailed('t_alpha#1')).rejects.toBeInstanceOf(NotFoundError);
  });
});
