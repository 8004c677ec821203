/**
 * `explore` on DynamoDB Local: each outcome the memory backend reports, replayed in its smallest
 * order on DynamoDB Local and the SQS emulator (a settle after every fire, duplicates with the
 * same event id), ends with the same statuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceStatus, TaskConfig, TaskHandler } from '../../lib/index.ts';
import {
  createTestRuntime,
  type ExploreEvent,
  explore,
  type TestRuntime,
} from '../../lib/testing/index.ts';

const handlers: Record<string, TaskHandler> = { work: async () => ({ done: true }) };

/** An `unless` race on an outside trigger, and one against a cascade. */
const workflow: Record<string, TaskConfig> = {
  t_x: { after: ['a'], unless: ['b'], run: 'work' },
  t_y: { after: ['t_x', 'c'], unless: ['d'], run: 'work' },
};

let rt: TestRuntime;
let sessions = 0;

beforeAll(async () => {
  rt = await createTestRuntime({ workflow, handlers, backend: 'dynamodb-local' });
});

afterAll(async () => {
  await rt?.close();
});

/** Replays `explore` labels (trigger, `#k` for repeats, ` (dup)` for duplicates) in a new session. */
async function replay(
  events: ExploreEvent[],
  order: string[],
): Promise<Record<string, InstanceStatus>> {
  sessions += 1;
  const s = rt.session(`replay-${sessions}`);
  const indexOf = (label: string) => {
    const base = label.replace(/ \(dup\)$/, '');
    const [trigger, k] = base.split('#') as [string, string | undefined];
    const matching = events.flatMap((e, i) => (e.trigger === trigger ? [i] : []));
    return matching[k === undefined ? 0 : Number(k) - 1] as number;
  };
  for (const label of order) {
    const i = indexOf(label);
    const e = events[i] as ExploreEvent;
    await s.fire(e.trigger, e.kwargs, { eventId: `event-${i}` });
    await rt.settle();
  }
  return Object.fromEntries((await s.instances()).map((i) => [i.name, i.status]));
}

describe('explore outcomes on DynamoDB Local', () => {
  it('every outcome of four racing events ends the same when its order is replayed', async () => {
    const events = ['a', 'b', 'c', 'd'].map((trigger) => ({ trigger }));
    const { outcomes } = await explore({ workflow, handlers, events });
    expect(outcomes.length).toBeGreaterThan(2);

    for (const outcome of outcomes) {
      expect(await replay(events, outcome.order)).toEqual(outcome.statuses);
    }
  });

  it('duplicates delivered with the same event id change nothing there either', async () => {
    const events = [{ trigger: 'a', kwargs: { n: 1 } }, { trigger: 'b' }];
    const { outcomes } = await explore({ workflow, handlers, events, duplicates: true });
    expect(outcomes.map((o) => o.statuses)).toEqual([
      { 't_x#0': 'finished', 't_y#0': 'unstarted' },
      { 't_x#0': 'abandoned' },
    ]);

    for (const outcome of outcomes) {
      expect(await replay(events, outcome.order)).toEqual(outcome.statuses);
    }
  });
});
