/**
 * Per-session configuration (`TestSession.configure`), the original's `update_configuration`:
 * tasks merge by name into the session's workflow (a same-name task is replaced whole), nothing
 * fired before is applied again but later fires see everything fired, invalid configurations
 * are refused, and the session's accept order decides which fires the configuration sees.
 */
import { describe, expect, it } from 'vitest';
import { TriggersError } from '../../lib/index.ts';
import {
  expectAbandoned,
  expectFinished,
  expectMissing,
  fireAndSettle,
  startSession,
} from './harness.ts';

const base = { t_alpha: { after: ['go'], run: 'passThru' } };

/** Asserts a refusal of the input (answered 400 over HTTP) whose message names `mentions`. */
async function expectRefused(attempt: Promise<unknown>, mentions: string): Promise<void> {
  const err = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the configuration is refused').toBeInstanceOf(TriggersError);
  expect(['VALIDATION', 'WORKFLOW_INVALID']).toContain((err as TriggersError).code);
  expect((err as Error).message).toContain(mentions);
}

describe('configuring a session', () => {
  it('adds tasks to that session only, which run from the next fire', async () => {
    const { rt, s } = await startSession(base);
    const other = rt.session('s2');

    await s.configure({ t_bravo: { after: ['more'], run: 'passThru' } });
    await s.configure({ t_charlie: { after: ['more'], run: 'passThru' } });
    await s.fire('go');
    await fireAndSettle(rt, s, 'more', { n: 1 });
    await fireAndSettle(rt, other, 'more');

    await expectFinished(s, 't_alpha#0', { kwargs: { go: {} } });
    await expectFinished(s, 't_bravo#0', { kwargs: { more: { n: 1 } } });
    await expectFinished(s, 't_charlie#0', { kwargs: { more: { n: 1 } } });
    await expectMissing(other, 't_bravo#0');
    expect(await other.unresolvedTasks()).toEqual(['t_alpha']);
  });

  it('replaces a task of the same name whole, not field by field', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['go'],
        unless: ['stop'],
        run: 'passThru',
        withParams: { extra: { kept: 'no' } },
      },
    });

    await s.configure({ t_alpha: { after: ['go'], run: 'passThru' } });
    await s.fire('stop');
    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', { kwargs: { go: {} } });
  });

  it('keeps the tasks it does not name as they were', async () => {
    const { rt, s } = await startSession({
      ...base,
      t_guarded: { after: ['late'], unless: ['stop'], run: 'devNull' },
    });

    await s.configure({ t_bravo: { after: ['go'], run: 'devNull' } });
    await s.fire('stop');
    await fireAndSettle(rt, s, 'late');

    await expectAbandoned(s, 't_guarded#0');
  });

  it('schedules nothing by itself: a trigger fired before is not applied again', async () => {
    const { rt, s } = await startSession(base);
    await fireAndSettle(rt, s, 'go');

    await s.configure({ t_new: { after: ['go'], run: 'passThru' } });
    await rt.settle();

    await expectMissing(s, 't_new#0');
    expect((await s.instances()).map((i) => i.name)).toEqual(['t_alpha#0']);
    expect(await s.unresolvedTasks()).toEqual(['t_new']);

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_new#0', { kwargs: { go: {} } });
    expect((await s.instances()).map((i) => i.name).sort()).toEqual(['t_alpha#0', 't_new#0']);
  });

  it('evaluates a later fire against every trigger the session has fired', async () => {
    const { rt, s } = await startSession(base);
    await fireAndSettle(rt, s, 'go', { x: 1 });
    await s.configure({ t_both: { after: ['go', 'more'], run: 'passThru' } });
    await rt.settle();
    await expectMissing(s, 't_both#0');

    await fireAndSettle(rt, s, 'more', { n: 2 });

    await expectFinished(s, 't_both#0', { kwargs: { go: { x: 1 }, more: { n: 2 } } });
  });

  it('runs instances created afterwards under the new configuration, earlier ones as they ran', async () => {
    const { rt, s } = await startSession({
      t_page: { after: [], andEvery: 'page', run: 'passThru', withParams: { source: { v: 1 } } },
    });
    await fireAndSettle(rt, s, 'page', { p: 1 });

    await s.configure({
      t_page: { after: [], andEvery: 'page', run: 'passThru', withParams: { source: { v: 2 } } },
    });
    await fireAndSettle(rt, s, 'page', { p: 2 });

    await expectFinished(s, 't_page#0', { kwargs: { source: { v: 1 }, page: { p: 1 } } });
    await expectFinished(s, 't_page#1', { kwargs: { source: { v: 2 }, page: { p: 2 } } });
  });

  it('creates a session that does not exist yet under the default workflow, scheduling nothing', async () => {
    const { rt, s } = await startSession(base);

    await s.configure({ t_new: { after: ['go'], run: 'passThru' } });
    await rt.settle();

    expect(await s.instances()).toEqual([]);
    expect(await s.unresolvedTasks()).toEqual(['t_alpha', 't_new']);

    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0');
    await expectFinished(s, 't_new#0');
  });
});

describe('an invalid configuration', () => {
  it('naming a handler the runtime does not have is refused, naming it, and changes nothing', async () => {
    const { rt, s } = await startSession(base);
    await fireAndSettle(rt, s, 'ready');

    await expectRefused(
      s.configure({ t_x: { after: ['go'], run: 'noSuchHandler' } }),
      'noSuchHandler',
    );
    await fireAndSettle(rt, s, 'go');

    await expectMissing(s, 't_x#0');
    await expectFinished(s, 't_alpha#0');
    expect(await s.unresolvedTasks()).toEqual([]);
  });

  it('with a task that can never run is refused', async () => {
    const { s } = await startSession(base);

    await expectRefused(
      s.configure({ t_orphan: { after: [], run: 'passThru' } }),
      "task 't_orphan' can never run",
    );
  });

  it('that closes a cycle with the tasks it merges into is refused, and changes nothing', async () => {
    const { rt, s } = await startSession({
      ...base,
      t_bravo: { after: ['t_alpha'], run: 'passThru' },
    });

    await expectRefused(
      s.configure({ t_alpha: { after: ['t_bravo'], run: 'passThru' } }),
      'can never run',
    );
    await fireAndSettle(rt, s, 'go');

    await expectFinished(s, 't_alpha#0', { kwargs: { go: {} } });
    await expectFinished(s, 't_bravo#0');
  });
});

describe('configuring while triggers fire', () => {
  it('does not apply a fire accepted before it to the tasks it adds', async () => {
    const { rt, s } = await startSession(base);

    await s.fire('go');
    await s.configure({ t_new: { after: ['go'], run: 'passThru' } });
    await rt.settle();

    await expectFinished(s, 't_alpha#0');
    await expectMissing(s, 't_new#0');
  });

  it('applies a fire accepted after it to the tasks it adds', async () => {
    const { rt, s } = await startSession(base);

    await s.configure({ t_new: { after: ['go'], run: 'passThru' } });
    await s.fire('go');
    await rt.settle();

    await expectFinished(s, 't_alpha#0');
    await expectFinished(s, 't_new#0', { kwargs: { go: {} } });
  });
});
