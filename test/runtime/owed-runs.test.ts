/**
 * What a commit records it owes (the head's `applied.sends`): runs of consecutive instances of
 * one task with one queue and delay, so that a commit of 100 `andEvery` instances adds one entry.
 */
import { describe, expect, it } from 'vitest';
import { owedRuns } from '../../lib/core/evaluator.ts';
import type { InstanceRecord } from '../../lib/store/port.ts';
import type { InstanceStatus } from '../../lib/types.ts';

function instance(
  task: string,
  n: number,
  status: InstanceStatus = 'scheduled',
  extra: Partial<InstanceRecord> = {},
): InstanceRecord {
  return {
    sessionId: 's1',
    workflow: 'wf',
    name: `${task}#${n}`,
    task,
    status,
    kwargs: {},
    attempt: 0,
    handler: 'h',
    queue: 'q',
    createdAt: '2026-12-02T00:00:00.000Z',
    updatedAt: '2026-12-02T00:00:00.000Z',
    ...extra,
  };
}

describe('owedRuns', () => {
  it('folds consecutive instances of one task into one run', () => {
    const created = Array.from({ length: 100 }, (_, i) => instance('t_page', 11 + i));
    expect(owedRuns(created)).toEqual([['t_page', 11, 110, 'q', 0]]);
  });

  it('leaves out instances that were not scheduled (abandoned ones are never sent)', () => {
    expect(owedRuns([instance('t', 0, 'abandoned'), instance('t', 1)])).toEqual([
      ['t', 1, 1, 'q', 0],
    ]);
  });

  it('starts a new run at a gap, another task, another queue or another delay', () => {
    const runs = owedRuns([
      instance('t', 0),
      instance('t', 2),
      instance('u', 3),
      instance('u', 4, 'scheduled', { queue: 'other' }),
      instance('u', 5, 'scheduled', { queue: 'other', delaySeconds: 30 }),
    ]);
    expect(runs).toEqual([
      ['t', 0, 0, 'q', 0],
      ['t', 2, 2, 'q', 0],
      ['u', 3, 3, 'q', 0],
      ['u', 4, 4, 'other', 0],
      ['u', 5, 5, 'other', 30],
    ]);
  });

  it('reads the number after the task name, also when the task name holds a #', () => {
    expect(owedRuns([instance('a#b', 7), instance('a#b', 8)])).toEqual([['a#b', 7, 8, 'q', 0]]);
  });
});
