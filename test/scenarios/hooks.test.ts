/**
 * Lifecycle hooks of the test runtime, ported from the original's `hooks_test.py`: `afterFire`
 * (a trigger nothing listens to, a cascade chain, replay, skip), `afterReplay`, `afterSkip`
 * (with and without cascade, after the cascade's `afterFire`), plus `afterFail` and
 * `afterFinalize`, and the exact payload each hook gets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Retry, type TaskConfig, type TaskHandler, type Workflow } from '../../lib/index.ts';
import { createTestRuntime, type TestRuntimeOptions } from '../../lib/testing/index.ts';
import {
  backend,
  expectFailed,
  expectFinished,
  expectReplayed,
  fireAndSettle,
  RuntimeFailure,
  standardHandlers,
} from './harness.ts';

type Runtime = Awaited<ReturnType<typeof createTestRuntime>>;
type Hooks = NonNullable<TestRuntimeOptions['hooks']>;
type HookName = keyof Hooks;

/** One hook call, in the order the runtime made it. */
interface Call {
  hook: HookName;
  payload: Record<string, unknown>;
}

const opened: Runtime[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((rt) => rt.close()));
});

/**
 * Starts a runtime whose every hook records its call; `calls` lists them in call order, `clear`
 * forgets them (the original's `del self.post_fire_calls[:]`).
 */
async function startRecorded(
  workflow: Workflow | Record<string, TaskConfig>,
  handlers: Record<string, TaskHandler> = {},
) {
  const calls: Call[] = [];
  const record =
    (hook: HookName) =>
    (payload: object): void => {
      calls.push({ hook, payload: { ...payload } });
    };
  const rt = await createTestRuntime({
    workflow,
    handlers: { ...standardHandlers, ...handlers },
    backend,
    hooks: {
      afterFire: record('afterFire'),
      afterReplay: record('afterReplay'),
      afterSkip: record('afterSkip'),
      afterFail: record('afterFail'),
      afterFinalize: record('afterFinalize'),
    },
  });
  opened.push(rt);
  const of = (hook: HookName) => calls.filter((c) => c.hook === hook).map((c) => c.payload);
  return {
    rt,
    s: rt.session('s1'),
    calls,
    clear: () => {
      calls.length = 0;
    },
    /** `(trigger, scheduled)` of each `afterFire`, as the original's hook recorded them. */
    fires: () => of('afterFire').map((p) => [p.trigger, p.scheduled]),
    replays: () => of('afterReplay'),
    skips: () => of('afterSkip').map((p) => [p.instance, p.cascade]),
    fails: () => of('afterFail'),
    finalizes: () => of('afterFinalize'),
  };
}

const FAILURE_MESSAGE = "You weren't supposed to see that.";

const chain: Workflow = {
  name: 'hooked',
  tasks: {
    t_alpha: { after: ['targetAcquired'], run: 'devNull' },
    t_bravo: { after: ['targetAcquired', 't_alpha'], run: 'devNull' },
  },
};

const failsOnce = { t_failingTask: { after: ['fail'], run: 'failing' } };
const failsEvery = { t_failingTask: { after: [], andEvery: 'fail', run: 'failing' } };

describe('afterFire', () => {
  it('is called for a trigger nothing listens to, with nothing scheduled', async () => {
    const { rt, s, fires } = await startRecorded(chain);

    await fireAndSettle(rt, s, 'foobar');

    expect(fires()).toEqual([['foobar', []]]);
  });

  it('is called for the fire, then for each cascade of the chain, the last scheduling nothing', async () => {
    const { rt, s, fires } = await startRecorded(chain);

    await fireAndSettle(rt, s, 'targetAcquired');

    expect(fires()).toEqual([
      ['targetAcquired', ['t_alpha#0']],
      ['t_alpha', ['t_bravo#0']],
      ['t_bravo', []],
    ]);
  });

  it("gets the session, the workflow, the trigger, the fire's event id and what it scheduled", async () => {
    const { rt, s, calls } = await startRecorded(chain);

    await s.fire('targetAcquired', { range: 3 }, { eventId: 'target-1' });
    await rt.settle();

    expect(calls.map((c) => c.hook)).toEqual(['afterFire', 'afterFire', 'afterFire']);
    expect(calls[0]?.payload).toStrictEqual({
      sessionId: 's1',
      workflow: 'hooked',
      trigger: 'targetAcquired',
      eventId: 'target-1',
      scheduled: ['t_alpha#0'],
    });
    expect(calls[1]?.payload).toStrictEqual({
      sessionId: 's1',
      workflow: 'hooked',
      trigger: 't_alpha',
      eventId: expect.any(String),
      scheduled: ['t_bravo#0'],
    });
    const eventIds = calls.map((c) => c.payload.eventId);
    expect(new Set(eventIds).size, 'each fire has its own event id').toBe(3);
  });

  it('is not called when a failed instance is replayed', async () => {
    const { rt, s, fires, clear } = await startRecorded(failsOnce);
    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#0', 'RuntimeFailure');
    expect(fires()).toEqual([['fail', ['t_failingTask#0']]]);
    clear();

    await s.replayFailed('t_failingTask#0');
    await rt.settle();

    await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');
    expect(fires()).toEqual([]);
  });

  it('is not called by a skip without cascade, and is called for the cascade of one with', async () => {
    const { rt, s, fires, clear } = await startRecorded(failsEvery);
    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#0', 'RuntimeFailure');
    expect(fires()).toEqual([['fail', ['t_failingTask#0']]]);
    clear();

    await s.skipFailed('t_failingTask#0', { cascade: false });
    await rt.settle();
    expect(fires()).toEqual([]);

    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');
    await s.skipFailed('t_failingTask#1', { cascade: true });
    await rt.settle();

    expect(fires()).toEqual([
      ['fail', ['t_failingTask#1']],
      ['t_failingTask', []],
    ]);
  });
});

describe('afterReplay', () => {
  it('is called with the new clone and the failed instance, and not by a skip', async () => {
    const { rt, s, replays, clear } = await startRecorded(failsOnce);
    await fireAndSettle(rt, s, 'fail');
    expect(replays()).toEqual([]);

    await s.replayFailed('t_failingTask#0');
    await rt.settle();

    await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');
    expect(replays()).toStrictEqual([
      { sessionId: 's1', instance: 't_failingTask#1', parent: 't_failingTask#0' },
    ]);
    clear();

    await s.skipFailed('t_failingTask#1', { cascade: true });
    await rt.settle();
    expect(replays()).toEqual([]);
  });

  it("is not called for a handler's own Retry, which fires nothing either", async () => {
    let calls = 0;
    const {
      rt,
      s,
      calls: heard,
    } = await startRecorded(
      { t_flaky: { after: ['go'], run: 'flaky' } },
      {
        flaky: () => {
          calls += 1;
          if (calls === 1) throw new Retry();
          return { ok: true };
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    await expectReplayed(s, 't_flaky#0');
    await expectFinished(s, 't_flaky#1', { ok: true });
    expect(heard.map((c) => [c.hook, c.payload.trigger])).toEqual([
      ['afterFire', 'go'],
      ['afterFire', 't_flaky'],
    ]);
  });
});

describe('afterSkip', () => {
  it('is called with the instance and whether it cascades, and not by a replay', async () => {
    const { rt, s, skips, clear } = await startRecorded(failsEvery);
    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#0', 'RuntimeFailure');
    expect(skips()).toEqual([]);

    await s.replayFailed('t_failingTask#0');
    await rt.settle();
    expect(skips()).toEqual([]);
    await expectFailed(s, 't_failingTask#1', 'RuntimeFailure');

    await s.skipFailed('t_failingTask#1', { cascade: false });
    await rt.settle();
    expect(skips()).toEqual([['t_failingTask#1', false]]);
    clear();

    await fireAndSettle(rt, s, 'fail');
    await expectFailed(s, 't_failingTask#2', 'RuntimeFailure');
    await s.skipFailed('t_failingTask#2', { cascade: true });
    await rt.settle();

    expect(skips()).toEqual([['t_failingTask#2', true]]);
  });

  it("is called after the afterFire of the skip's cascade", async () => {
    const { rt, s, calls, clear } = await startRecorded(failsOnce);
    await fireAndSettle(rt, s, 'fail');
    clear();

    await s.skipFailed('t_failingTask#0', { cascade: true });
    await rt.settle();

    expect(calls.map((c) => c.hook)).toEqual(['afterFire', 'afterSkip']);
    expect(calls[0]?.payload).toMatchObject({ trigger: 't_failingTask', scheduled: [] });
  });

  it('follows the afterFire that schedules the dependant, which then runs and fires', async () => {
    const { rt, s, calls, clear } = await startRecorded({
      ...failsOnce,
      t_next: { after: ['t_failingTask'], run: 'passThru' },
    });
    await fireAndSettle(rt, s, 'fail');
    clear();

    await s.skipFailed('t_failingTask#0', { cascade: true, result: { patched: true } });
    await rt.settle();

    await expectFinished(s, 't_next#0', { kwargs: { t_failingTask: { patched: true } } });
    expect(calls.map((c) => [c.hook, c.payload.trigger ?? c.payload.instance])).toEqual([
      ['afterFire', 't_failingTask'],
      ['afterSkip', 't_failingTask#0'],
      ['afterFire', 't_next'],
    ]);
    expect(calls[0]?.payload.scheduled).toEqual(['t_next#0']);
  });
});

describe('afterFail', () => {
  it("is called with the failed instance and its error's type and message", async () => {
    const { rt, s, fails } = await startRecorded(failsOnce);

    await fireAndSettle(rt, s, 'fail');

    const failed = await expectFailed(s, 't_failingTask#0', 'RuntimeFailure');
    expect(fails()).toStrictEqual([
      {
        sessionId: 's1',
        instance: 't_failingTask#0',
        error: expect.objectContaining({ type: 'RuntimeFailure', message: FAILURE_MESSAGE }),
      },
    ]);
    expect(fails()[0]?.error).toEqual(failed.error);
  });

  it('is called again when the replayed clone fails, and for a Retry out of attempts', async () => {
    const { rt, s, fails } = await startRecorded(
      {
        ...failsOnce,
        t_stubborn: { after: ['stubborn'], run: 'alwaysRetry', maxRetries: 1 },
      },
      {
        alwaysRetry: () => {
          throw new Retry();
        },
      },
    );
    await fireAndSettle(rt, s, 'fail');
    await s.replayFailed('t_failingTask#0');
    await rt.settle();

    await fireAndSettle(rt, s, 'stubborn');

    await expectFailed(s, 't_stubborn#1', 'MaxRetriesExceeded');
    expect(fails().map((p) => [p.instance, (p.error as { type: string }).type])).toEqual([
      ['t_failingTask#0', 'RuntimeFailure'],
      ['t_failingTask#1', 'RuntimeFailure'],
      ['t_stubborn#1', 'MaxRetriesExceeded'],
    ]);
  });
});

describe('afterFinalize', () => {
  const finalized: Workflow = {
    name: 'finalized',
    tasks: {
      t_import: { after: ['submitted'], run: 'devNull' },
      t_check: { after: ['t_import'], run: 'failing' },
      t_report: { after: ['sessionFinalized'], run: 'devNull' },
    },
    finalizeTrigger: 'sessionFinalized',
  };

  it('is called once, when the finalize trigger fires, after the session and workflow', async () => {
    const { rt, s, finalizes, fires } = await startRecorded(finalized);
    await fireAndSettle(rt, s, 'submitted');
    expect(finalizes(), 'not while t_check has failed').toEqual([]);

    await s.skipFailed('t_check#0');
    await rt.settle();

    expect(finalizes()).toStrictEqual([{ sessionId: 's1', workflow: 'finalized' }]);
    expect(fires()).toContainEqual(['sessionFinalized', ['t_report#0']]);
    await expectFinished(s, 't_report#0');

    await fireAndSettle(rt, s, 'submitted');
    expect(finalizes()).toHaveLength(1);
  });
});

describe('hook payloads', () => {
  it("are exactly the contract's objects, in the order things happened", async () => {
    const { rt, s, calls } = await startRecorded({
      name: 'payloads',
      tasks: { t_flaky: { after: ['go'], run: 'failing' } },
    });
    const error = expect.objectContaining({
      type: RuntimeFailure.name,
      message: FAILURE_MESSAGE,
    });

    await s.fire('go', {}, { eventId: 'go-1' });
    await rt.settle();
    await s.replayFailed('t_flaky#0');
    await rt.settle();
    await s.skipFailed('t_flaky#1', { cascade: true });
    await rt.settle();

    expect(calls).toStrictEqual([
      {
        hook: 'afterFire',
        payload: {
          sessionId: 's1',
          workflow: 'payloads',
          trigger: 'go',
          eventId: 'go-1',
          scheduled: ['t_flaky#0'],
        },
      },
      { hook: 'afterFail', payload: { sessionId: 's1', instance: 't_flaky#0', error } },
      {
        hook: 'afterReplay',
        payload: { sessionId: 's1', instance: 't_flaky#1', parent: 't_flaky#0' },
      },
      { hook: 'afterFail', payload: { sessionId: 's1', instance: 't_flaky#1', error } },
      {
        hook: 'afterFire',
        payload: {
          sessionId: 's1',
          workflow: 'payloads',
          trigger: 't_flaky',
          eventId: expect.any(String),
          scheduled: [],
        },
      },
      { hook: 'afterSkip', payload: { sessionId: 's1', instance: 't_flaky#1', cascade: true } },
    ]);
  });

  it('name the session they are about', async () => {
    const { rt, fires, calls } = await startRecorded(chain);

    await rt.session('s2').fire('foobar');
    await rt.settle();

    expect(fires()).toEqual([['foobar', []]]);
    expect(calls[0]?.payload.sessionId).toBe('s2');
  });
});
