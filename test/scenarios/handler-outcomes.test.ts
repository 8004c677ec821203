/**
 * What a handler's outcome does to its instance: results, invalid results, Skip, Retry (until
 * success, until MaxRetriesExceeded, with replacement kwargs, with a cooldown), thrown errors,
 * the log level, the handler context and firing from a handler.
 */
import { describe, expect, it } from 'vitest';
import { Retry, Skip, type TaskContext, type TaskHandler } from '../../lib/index.ts';
import {
  expectFailed,
  expectFinished,
  expectMissing,
  expectReplayed,
  expectSkipped,
  expectStatus,
  expectUnresolved,
  fireAndSettle,
  start,
  startSession,
} from './harness.ts';

describe('a handler that returns', () => {
  it('an object finishes the instance with that result and cascades it', async () => {
    const { rt, s } = await startSession(
      {
        t_alpha: { after: ['go'], run: 'score' },
        t_bravo: { after: ['t_alpha'], run: 'passThru' },
      },
      { score: () => ({ score: 42, band: 'red' }) },
    );

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', { score: 42, band: 'red' });
    await expectFinished(s, 't_bravo#0', { kwargs: { t_alpha: { score: 42, band: 'red' } } });
    await expectUnresolved(s, [], []);
  });

  it('nothing finishes the instance with an empty result and cascades empty kwargs', async () => {
    const { rt, s } = await startSession(
      {
        t_alpha: { after: ['go'], run: 'silent' },
        t_bravo: { after: ['t_alpha'], run: 'passThru' },
      },
      {
        silent: () => {
          return undefined;
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', {});
    await expectFinished(s, 't_bravo#0', { kwargs: { t_alpha: {} } });
    await expectUnresolved(s, [], []);
  });

  it('null finishes the instance with an empty result', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'nullish' } },
      { nullish: (() => null) as unknown as TaskHandler },
    );

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', {});
  });

  it('a resolved promise of an object finishes the instance with that object', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'later' } },
      {
        later: async () => {
          await new Promise((r) => setTimeout(r, 5));
          return { ok: true };
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', { ok: true });
  });

  it.each([
    ['a number', 42],
    ['a string', 'done'],
    ['a boolean', true],
    ['an array', [1, 2]],
  ])(
    '%s fails the instance with InvalidResultError and does not cascade',
    async (_label, value) => {
      const { rt, s } = await startSession(
        {
          t_alpha: { after: ['go'], run: 'odd' },
          t_bravo: { after: ['t_alpha'], run: 'passThru' },
        },
        { odd: (() => value) as unknown as TaskHandler },
      );

      await fireAndSettle(rt, s, 'go');

      const instance = await expectFailed(s, 't_alpha#0', 'InvalidResultError');
      expect(instance.result).toBeUndefined();
      expect(instance.error?.message).toEqual(expect.any(String));
      expect(instance.error?.message.length).toBeGreaterThan(0);
      await expectMissing(s, 't_bravo#0');
      await expectUnresolved(s, ['t_alpha', 't_bravo'], ['t_alpha#0']);
    },
  );
});

describe('a handler whose outcome cannot be stored', () => {
  const circular = (): Record<string, unknown> => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    return o;
  };
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 40; i++) deep = { d: deep };

  it.each([
    [
      'a result over 256 KiB',
      () => ({ blob: 'x'.repeat(300 * 1024) }),
      'ResultTooLargeError',
      /over the limit of 262144/,
    ],
    ['a result that is not JSON (circular)', circular, 'InvalidResultError', /result is not JSON/],
    ['a result nested 41 levels deep', () => deep, 'InvalidResultError', /deeper than 32 levels/],
    [
      'Skip metadata over 256 KiB',
      () => {
        throw new Skip({ blob: 'x'.repeat(300 * 1024) });
      },
      'ResultTooLargeError',
      /Skip metadata is \d+ bytes/,
    ],
  ])(
    '%s fails the instance with a message saying why, once, and does not cascade',
    async (_label, handler, type, message) => {
      let runs = 0;
      const { rt, s } = await startSession(
        {
          t_alpha: { after: ['go'], run: 'big' },
          t_bravo: { after: ['t_alpha'], run: 'passThru' },
        },
        {
          big: (() => {
            runs += 1;
            return handler();
          }) as TaskHandler,
        },
      );

      await fireAndSettle(rt, s, 'go');

      const instance = await expectFailed(s, 't_alpha#0', type);
      expect(instance.error?.message).toMatch(message);
      expect(instance.error?.message).toContain("task 't_alpha'");
      expect(instance.result).toBeUndefined();
      expect(runs).toBe(1);
      await expectMissing(s, 't_bravo#0');
    },
  );
});

describe('a handler that throws', () => {
  class ValidationFailure extends Error {
    override name = 'ValidationFailure';
    context = { field: 'age', value: -1 };
  }

  it('a named error fails the instance with its type, message, stack and context', async () => {
    const { rt, s } = await startSession(
      {
        t_alpha: { after: ['go'], run: 'validate' },
        t_bravo: { after: ['t_alpha'], run: 'passThru' },
      },
      {
        validate: () => {
          throw new ValidationFailure('age must not be negative');
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    const instance = await expectFailed(s, 't_alpha#0', 'ValidationFailure');
    expect(instance.error?.message).toBe('age must not be negative');
    expect(instance.error?.stack).toEqual(expect.stringContaining('age must not be negative'));
    expect(instance.error?.context).toEqual({ field: 'age', value: -1 });
    expect(instance.result).toBeUndefined();
    await expectMissing(s, 't_bravo#0');
    await expectUnresolved(s, ['t_alpha', 't_bravo'], ['t_alpha#0']);
  });

  it('a plain Error fails the instance with type Error and no context', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'plain' } },
      {
        plain: () => {
          throw new Error('plain failure');
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    const instance = await expectFailed(s, 't_alpha#0', 'Error');
    expect(instance.error?.message).toBe('plain failure');
    expect(instance.error?.context).toBeUndefined();
  });

  it('the standard failing handler fails with its error name', async () => {
    const { rt, s } = await startSession({ t_alpha: { after: ['go'], run: 'failing' } });

    await fireAndSettle(rt, s, 'go');

    const instance = await expectFailed(s, 't_alpha#0', 'RuntimeFailure');
    expect(instance.error?.message).toBe("You weren't supposed to see that.");
  });

  it('from an async handler fails the instance the same way', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'rejecting' } },
      {
        rejecting: async () => {
          await new Promise((r) => setTimeout(r, 5));
          throw new ValidationFailure('late failure');
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    const instance = await expectFailed(s, 't_alpha#0', 'ValidationFailure');
    expect(instance.error?.message).toBe('late failure');
    expect(instance.error?.context).toEqual({ field: 'age', value: -1 });
  });

  it('something that is not an Error still fails the instance', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'weird' } },
      {
        weird: () => {
          throw 'a bare string';
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    const instance = await expectStatus(s, 't_alpha#0', 'failed');
    expect(instance.error?.type).toEqual(expect.any(String));
    await expectUnresolved(s, ['t_alpha'], ['t_alpha#0']);
  });
});

describe('a handler that skips itself', () => {
  const skipper: TaskHandler = (ctx) => {
    throw new Skip({ kwargs: ctx.kwargs });
  };

  it('is marked skipped with its metadata and does not cascade', async () => {
    const { rt, s } = await startSession(
      {
        t_skipper: { after: ['integrity'], run: 'skipper' },
        t_next: { after: ['t_skipper'], run: 'passThru' },
      },
      { skipper },
    );

    await fireAndSettle(rt, s, 'integrity');

    const instance = await expectSkipped(s, 't_skipper#0');
    expect(instance.metadata).toMatchObject({ kwargs: { integrity: {} } });
    await expectMissing(s, 't_next#0');
    await expectUnresolved(s, ['t_next'], []);
  });

  it('keeps metadata built from the fired kwargs', async () => {
    const { rt, s } = await startSession(
      { t_skipper: { after: ['integrity'], run: 'skipper' } },
      { skipper },
    );
    const kwargs = { foo: 'bar', baz: 'luhrmann' };

    await fireAndSettle(rt, s, 'integrity', kwargs);

    const instance = await expectSkipped(s, 't_skipper#0');
    expect(instance.metadata?.kwargs).toEqual({ integrity: kwargs });
  });

  it('without metadata is still marked skipped', async () => {
    const { rt, s } = await startSession(
      { t_skipper: { after: ['integrity'], run: 'bareSkip' } },
      {
        bareSkip: () => {
          throw new Skip();
        },
      },
    );

    await fireAndSettle(rt, s, 'integrity');

    await expectSkipped(s, 't_skipper#0');
    await expectUnresolved(s, [], []);
  });
});

describe('a handler that retries itself', () => {
  /** Retries until its attempt reaches kwargs.retries.max, then reports the attempt. */
  const selfRetrying: TaskHandler = (ctx) => {
    const max = (ctx.kwargs.retries?.max as number | undefined) ?? 1;
    if (ctx.attempt < max) throw new Retry();
    return { count: ctx.attempt };
  };

  it('gets a new clone per retry and finishes when it stops retrying', async () => {
    const { rt, s } = await startSession(
      {
        t_replay: {
          after: ['start'],
          run: 'selfRetrying',
          maxRetries: 2,
          withParams: { retries: { max: 2 } },
        },
      },
      { selfRetrying },
    );

    await fireAndSettle(rt, s, 'start');

    const first = await expectReplayed(s, 't_replay#0');
    const second = await expectReplayed(s, 't_replay#1');
    const third = await expectFinished(s, 't_replay#2', { count: 2 });
    expect(first.attempt).toBe(0);
    expect(first.parent).toBeUndefined();
    expect(second.attempt).toBe(1);
    expect(second.parent).toBe('t_replay#0');
    expect(third.attempt).toBe(2);
    expect(third.parent).toBe('t_replay#1');
    expect(third.kwargs).toEqual({ start: {} });
    await expectMissing(s, 't_replay#3');
    await expectUnresolved(s, [], []);
  });

  it('fails with MaxRetriesExceeded once its attempts reach maxRetries', async () => {
    const { rt, s } = await startSession(
      {
        t_replay: {
          after: ['start'],
          run: 'selfRetrying',
          maxRetries: 2,
          withParams: { retries: { max: 3 } },
        },
      },
      { selfRetrying },
    );

    await fireAndSettle(rt, s, 'start');

    await expectReplayed(s, 't_replay#0');
    await expectReplayed(s, 't_replay#1');
    const last = await expectFailed(s, 't_replay#2', 'MaxRetriesExceeded');
    expect(last.attempt).toBe(2);
    await expectMissing(s, 't_replay#3');
    await expectUnresolved(s, ['t_replay'], ['t_replay#2']);
  });

  it('may retry three times by default', async () => {
    const { rt, s } = await startSession(
      { t_replay: { after: ['start'], run: 'always' } },
      {
        always: () => {
          throw new Retry();
        },
      },
    );

    await fireAndSettle(rt, s, 'start');

    await expectReplayed(s, 't_replay#0');
    await expectReplayed(s, 't_replay#1');
    await expectReplayed(s, 't_replay#2');
    await expectFailed(s, 't_replay#3', 'MaxRetriesExceeded');
    await expectMissing(s, 't_replay#4');
  });

  it('after MaxRetriesExceeded can be replayed by hand, and a further Retry fails at once', async () => {
    const { rt, s } = await startSession(
      { t_replay: { after: ['start'], run: 'always', maxRetries: 1 } },
      {
        always: () => {
          throw new Retry();
        },
      },
    );
    await fireAndSettle(rt, s, 'start');
    await expectFailed(s, 't_replay#1', 'MaxRetriesExceeded');

    await s.replayFailed('t_replay#1');
    await rt.settle();

    await expectReplayed(s, 't_replay#1');
    const clone = await expectFailed(s, 't_replay#2', 'MaxRetriesExceeded');
    expect(clone.attempt).toBe(2);
    expect(clone.parent).toBe('t_replay#1');
    await expectMissing(s, 't_replay#3');
  });

  it('with replacement kwargs runs the clone with exactly those kwargs', async () => {
    const fixer: TaskHandler = (ctx) => {
      if (ctx.attempt === 0) {
        throw new Retry({
          replacementKwargs: { dataReceived: { fixed: true }, note: { by: 'retry' } },
        });
      }
      return { kwargs: ctx.kwargs };
    };
    const { rt, s } = await startSession(
      {
        t_alpha: { after: ['dataReceived'], run: 'fixer' },
        t_bravo: { after: ['t_alpha'], run: 'passThru' },
      },
      { fixer },
    );

    await fireAndSettle(rt, s, 'dataReceived', { broken: true });

    const original = await expectReplayed(s, 't_alpha#0');
    expect(original.kwargs).toEqual({ dataReceived: { broken: true } });
    const expected = { kwargs: { dataReceived: { fixed: true }, note: { by: 'retry' } } };
    const clone = await expectFinished(s, 't_alpha#1', expected);
    expect(clone.kwargs).toEqual(expected.kwargs);
    expect(clone.parent).toBe('t_alpha#0');
    expect(clone.attempt).toBe(1);
    await expectFinished(s, 't_bravo#0', { kwargs: { t_alpha: expected } });
    await expectUnresolved(s, [], []);
  });

  it('with an hour-long cooldown is settled without waiting real time', async () => {
    const sleepy: TaskHandler = (ctx) => {
      if (ctx.attempt === 0) throw new Retry({ cooldownSeconds: 3600 });
      return { attempt: ctx.attempt };
    };
    const { rt, s } = await startSession({ t_alpha: { after: ['go'], run: 'sleepy' } }, { sleepy });
    const began = Date.now();

    await fireAndSettle(rt, s, 'go');

    expect(Date.now() - began).toBeLessThan(3_600_000);
    await expectReplayed(s, 't_alpha#0');
    await expectFinished(s, 't_alpha#1', { attempt: 1 });
    await expectUnresolved(s, [], []);
  });

  it('does not cascade from the replayed instance, only from the clone that finishes', async () => {
    const counted: TaskHandler = (ctx) => {
      if (ctx.attempt < 1) throw new Retry();
      return { attempt: ctx.attempt };
    };
    const { rt, s } = await startSession(
      {
        t_alpha: { after: ['go'], run: 'counted' },
        t_after: { after: [], andEvery: 't_alpha', run: 'passThru' },
      },
      { counted },
    );

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_after#0', { kwargs: { t_alpha: { attempt: 1 } } });
    await expectMissing(s, 't_after#1');
  });
});

describe('the handler context', () => {
  it('names the session, instance, task and attempt, and carries the custom directives', async () => {
    const seen: Array<Omit<TaskContext, 'fire' | 'logger'>> = [];
    const rt = await start(
      {
        t_alpha: {
          after: ['go'],
          run: 'observe',
          maxRetries: 2,
          timeoutHint: 30,
          team: { owner: 'ops' },
          tags: ['a', 'b'],
        },
      },
      {
        observe: (ctx) => {
          seen.push({
            sessionId: ctx.sessionId,
            instance: ctx.instance,
            task: ctx.task,
            attempt: ctx.attempt,
            kwargs: ctx.kwargs,
            extras: ctx.extras,
          });
          if (ctx.attempt === 0) throw new Retry();
          return {};
        },
      },
    );
    const s = rt.session('survey-42');

    await fireAndSettle(rt, s, 'go', { x: 1 });

    await expectFinished(s, 't_alpha#1', {});
    expect(seen).toEqual([
      {
        sessionId: 'survey-42',
        instance: 't_alpha#0',
        task: 't_alpha',
        attempt: 0,
        kwargs: { go: { x: 1 } },
        extras: { timeoutHint: 30, team: { owner: 'ops' }, tags: ['a', 'b'] },
      },
      {
        sessionId: 'survey-42',
        instance: 't_alpha#1',
        task: 't_alpha',
        attempt: 1,
        kwargs: { go: { x: 1 } },
        extras: { timeoutHint: 30, team: { owner: 'ops' }, tags: ['a', 'b'] },
      },
    ]);
  });

  it('has empty extras for a task without custom directives', async () => {
    let extras: unknown;
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'observe', withParams: { p: { q: 1 } } } },
      {
        observe: (ctx) => {
          extras = ctx.extras;
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', {});
    expect(extras).toEqual({});
  });

  it('fires a trigger into the same session from a handler', async () => {
    const { rt, s } = await startSession(
      {
        t_announcer: { after: ['go'], run: 'announce' },
        t_listener: { after: ['announced'], run: 'passThru' },
      },
      {
        announce: async (ctx) => {
          await ctx.fire('announced', { from: ctx.instance });
          return { fired: true };
        },
      },
    );
    const other = rt.session('s2');

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_announcer#0', { fired: true });
    await expectFinished(s, 't_listener#0', {
      kwargs: { announced: { from: 't_announcer#0' } },
    });
    await expectUnresolved(s, [], []);
    await expectMissing(other, 't_listener#0');
    expect(await other.instances()).toEqual([]);
  });

  it('records the highest level the handler logged', async () => {
    const { rt, s } = await startSession(
      {
        t_loud: { after: ['go'], run: 'loud' },
        t_quiet: { after: ['go'], run: 'quiet' },
        t_debug: { after: ['go'], run: 'chatty' },
      },
      {
        loud: (ctx) => {
          ctx.logger.debug('starting');
          ctx.logger.warn('odd input', { field: 'age' });
          ctx.logger.info('done');
          return {};
        },
        quiet: (ctx) => {
          ctx.logger.info('just saying');
          return {};
        },
        chatty: (ctx) => {
          ctx.logger.debug('details');
          return {};
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    expect((await expectFinished(s, 't_loud#0', {})).logLevel).toBe('warn');
    expect((await expectFinished(s, 't_quiet#0', {})).logLevel).toBe('info');
    expect((await expectFinished(s, 't_debug#0', {})).logLevel).toBe('debug');
  });

  it('records an error log level on a handler that logs an error and then fails', async () => {
    const { rt, s } = await startSession(
      { t_alpha: { after: ['go'], run: 'grumpy' } },
      {
        grumpy: (ctx) => {
          ctx.logger.info('trying');
          ctx.logger.error('giving up', { reason: 'bad data' });
          throw new Error('bad data');
        },
      },
    );

    await fireAndSettle(rt, s, 'go');

    const instance = await expectFailed(s, 't_alpha#0', 'Error');
    expect(instance.logLevel).toBe('error');
  });
});

describe('instance records', () => {
  it('carry ISO 8601 creation and update times', async () => {
    const { rt, s } = await startSession({ t_alpha: { after: ['go'], run: 'devNull' } });

    await fireAndSettle(rt, s, 'go');

    const instance = await expectFinished(s, 't_alpha#0', {});
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
    expect(instance.createdAt).toMatch(iso);
    expect(instance.updatedAt).toMatch(iso);
    expect(Date.parse(instance.updatedAt)).toBeGreaterThanOrEqual(Date.parse(instance.createdAt));
  });

  it('are all listed by instances()', async () => {
    const { rt, s } = await startSession({
      t_alpha: { after: ['go'], run: 'devNull' },
      t_bravo: { after: ['go', 'later'], run: 'devNull' },
    });

    await fireAndSettle(rt, s, 'go');

    const all = await s.instances();
    expect(all.map((i) => [i.name, i.status]).sort()).toEqual([
      ['t_alpha#0', 'finished'],
      ['t_bravo#0', 'unstarted'],
    ]);
  });
});
