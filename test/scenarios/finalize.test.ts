/**
 * Session finalization: the workflow's finalize trigger fires once, by itself, when every task
 * of the session is resolved (tasks that wait for it, directly or through cascades, are not
 * counted).
 */
import { describe, expect, it } from 'vitest';
import { Retry, Skip, type Workflow } from '../../lib/index.ts';
import {
  expectFinished,
  expectMissing,
  expectSkipped,
  fireAndSettle,
  startSession,
} from './harness.ts';

const survey: Workflow = {
  name: 'finalized',
  tasks: {
    t_import: { after: ['submitted'], run: 'devNull' },
    t_score: { after: ['t_import'], run: 'devNull' },
    t_report: { after: ['sessionFinalized'], run: 'passThru' },
    t_archive: { after: ['t_report'], run: 'devNull' },
  },
  finalizeTrigger: 'sessionFinalized',
};

describe('the finalize trigger', () => {
  it('fires once every counted task is resolved, and runs what waits for it', async () => {
    const { rt, s } = await startSession(survey);

    await fireAndSettle(rt, s, 'submitted');

    await expectFinished(s, 't_score#0');
    await expectFinished(s, 't_report#0', { kwargs: { sessionFinalized: {} } });
    await expectFinished(s, 't_archive#0');
    expect(await s.unresolvedTasks()).toEqual([]);
  });

  it('waits while a task has no instance yet, and fires when the last one resolves', async () => {
    const { rt, s } = await startSession({
      ...survey,
      tasks: { ...survey.tasks, t_meta: { after: ['browser'], run: 'devNull' } },
    });
    await fireAndSettle(rt, s, 'submitted');
    await expectMissing(s, 't_report#0');

    await fireAndSettle(rt, s, 'browser');

    await expectFinished(s, 't_report#0');
  });

  it('does not fire while an instance has failed; skipping it lets it fire', async () => {
    const { rt, s } = await startSession({
      ...survey,
      tasks: { ...survey.tasks, t_score: { after: ['t_import'], run: 'failing' } },
    });
    await fireAndSettle(rt, s, 'submitted');
    await expectMissing(s, 't_report#0');

    await s.skipFailed('t_score#0');
    await rt.settle();

    await expectSkipped(s, 't_score#0');
    await expectFinished(s, 't_report#0');
  });

  it("counts a handler's Skip and a finished retry as resolved", async () => {
    let calls = 0;
    const { rt, s } = await startSession(
      {
        ...survey,
        tasks: {
          ...survey.tasks,
          t_import: { after: ['submitted'], run: 'skipper' },
          t_score: { after: ['submitted'], run: 'flaky' },
        },
      },
      {
        skipper: () => {
          throw new Skip({ reason: 'nothing to import' });
        },
        flaky: () => {
          calls += 1;
          if (calls === 1) throw new Retry();
          return {};
        },
      },
    );

    await fireAndSettle(rt, s, 'submitted');

    await expectSkipped(s, 't_import#0');
    await expectFinished(s, 't_score#1');
    await expectFinished(s, 't_report#0');
  });

  it('fires exactly once: later work in the session does not fire it again', async () => {
    const { rt, s } = await startSession({
      ...survey,
      tasks: { ...survey.tasks, t_page: { after: [], andEvery: 'page', run: 'devNull' } },
    });
    await fireAndSettle(rt, s, 'page');
    await fireAndSettle(rt, s, 'submitted');
    await expectFinished(s, 't_report#0');

    await fireAndSettle(rt, s, 'page');
    await fireAndSettle(rt, s, 'submitted');

    await expectFinished(s, 't_page#1');
    await expectMissing(s, 't_report#1');
  });

  it('is not fired for a session whose tasks cannot all resolve', async () => {
    const { rt, s } = await startSession(survey);
    await fireAndSettle(rt, s, 'something-else');
    await rt.advance('30d');

    await expectMissing(s, 't_report#0');
    expect(await s.unresolvedTasks()).toEqual(['t_archive', 't_import', 't_report', 't_score']);
  });
});
