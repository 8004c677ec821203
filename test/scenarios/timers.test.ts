/**
 * Timers: a trigger that fires by itself, once, a set time after another first fired. On both
 * backends the test runtime's virtual clock moves only with `advance`: `settle` never makes a
 * timer due.
 */
import { describe, expect, it } from 'vitest';
import type { Workflow } from '../../lib/index.ts';
import {
  expectAbandoned,
  expectFinished,
  expectMissing,
  fireAndSettle,
  startSession,
} from './harness.ts';

/** Remind a user who asked a question and got no answer within a day. */
const reminder: Workflow = {
  name: 'reminder',
  tasks: {
    t_remind: { after: ['noAnswer'], unless: ['answered'], run: 'passThru' },
    t_thank: { after: ['answered'], run: 'devNull' },
  },
  timers: { noAnswer: { after: '24h', from: 'asked' } },
};

describe('a timer', () => {
  it('fires its trigger once its delay has passed on the clock, with when and by what it was armed', async () => {
    const { rt, s } = await startSession(reminder);
    await s.fire('asked', { question: 'q1' }, { eventId: 'ask-1' });
    await rt.settle();

    await expectMissing(s, 't_remind#0');
    await rt.advance('23h');
    await expectMissing(s, 't_remind#0');

    await rt.advance('1h');

    const remind = await expectFinished(s, 't_remind#0');
    const fired = remind.kwargs.noAnswer as { armedAt: string; dueAt: string; by: string };
    expect(fired.by).toBe('ask-1');
    expect(Date.parse(fired.dueAt) - Date.parse(fired.armedAt)).toBe(24 * 3600 * 1000);
  });

  it('is not an instance of the session: instances and unresolved lists show tasks only', async () => {
    const { rt, s } = await startSession(reminder);
    await fireAndSettle(rt, s, 'asked');

    expect((await s.instances()).map((i) => i.name)).toEqual([]);
    expect(await s.unresolvedInstances()).toEqual([]);
    expect(await s.unresolvedTasks()).toEqual(['t_remind', 't_thank']);
  });

  it('lets an unless trigger that came first abandon the task it would have started', async () => {
    const { rt, s } = await startSession(reminder);
    await fireAndSettle(rt, s, 'asked');
    await fireAndSettle(rt, s, 'answered');

    await rt.advance('2d');

    await expectAbandoned(s, 't_remind#0');
    await expectFinished(s, 't_thank#0');
  });

  it('is armed by the first fire of its from trigger only: one firing, whatever fires later', async () => {
    const { rt, s } = await startSession(reminder);
    await fireAndSettle(rt, s, 'asked');
    await rt.advance('12h');
    // A second question half-way does not re-arm or add a timer.
    await fireAndSettle(rt, s, 'asked');

    await rt.advance('12h');
    await expectFinished(s, 't_remind#0');
    await rt.advance('7d');

    await expectMissing(s, 't_remind#1');
  });

  it('can start from a cascade, and fires in time order with other timers', async () => {
    const order: string[] = [];
    const { rt, s } = await startSession(
      {
        name: 'chain',
        tasks: {
          t_start: { after: ['go'], run: 'devNull' },
          t_early: { after: ['soon'], run: 'note' },
          t_late: { after: ['later'], run: 'note' },
        },
        timers: {
          later: { after: '2h', from: 't_start' },
          soon: { after: 90, from: 't_start' },
        },
      },
      {
        note: (ctx) => {
          order.push(ctx.task);
          return {};
        },
      },
    );
    await fireAndSettle(rt, s, 'go');

    await rt.advance('3h');

    expect(order).toEqual(['t_early', 't_late']);
  });

  it('fires the same on a long delay as on a short one (no cap at the queue delay limit)', async () => {
    const { rt, s } = await startSession({
      name: 'week',
      tasks: { t_expire: { after: ['expired'], run: 'devNull' } },
      timers: { expired: { after: '7d', from: 'opened' } },
    });
    await fireAndSettle(rt, s, 'opened');

    await rt.advance(7 * 86_400 - 1);
    await expectMissing(s, 't_expire#0');
    await rt.advance(1);

    await expectFinished(s, 't_expire#0');
  });

  it('refuses a bad advance duration with a message', async () => {
    const { rt } = await startSession(reminder);
    await expect(rt.advance('soon' as '1s')).rejects.toThrow(/not a duration/);
  });

  it('runs the README example: a reminder after a day, the deadline abandoned, then finalization', async () => {
    const { rt, s } = await startSession({
      name: 'application',
      tasks: {
        t_review: { after: ['submitted'], run: 'devNull' },
        t_remind: { after: ['noReply'], unless: ['documentsSent'], run: 'devNull' },
        t_expire: { after: ['deadline'], unless: ['documentsSent'], run: 'devNull' },
        t_archive: { after: ['closed'], run: 'devNull' },
      },
      timers: {
        noReply: { after: '24h', from: 'submitted' },
        deadline: { after: '7d', from: 'submitted' },
      },
      finalizeTrigger: 'closed',
    });
    await fireAndSettle(rt, s, 'submitted');
    await rt.advance('1d');
    await expectFinished(s, 't_remind#0');
    await expectMissing(s, 't_archive#0');

    await fireAndSettle(rt, s, 'documentsSent');

    await expectAbandoned(s, 't_expire#0');
    await expectFinished(s, 't_archive#0');
    await rt.advance('7d');
    expect((await s.instances()).map((i) => `${i.name} ${i.status}`)).toEqual([
      't_archive#0 finished',
      't_expire#0 abandoned',
      't_remind#0 finished',
      't_review#0 finished',
    ]);
  });
});
