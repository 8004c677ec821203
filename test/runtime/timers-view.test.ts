/**
 * How a session with timers reads: its timers apart from its instances (the session view and
 * `triggers inspect`), armed until due, then fired.
 */
import { describe, expect, it } from 'vitest';
import { renderSession } from '../../lib/cli/inspect.ts';
import { fireEvent } from '../../lib/core/ingest.ts';
import { silentSink } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { readSession } from '../../lib/core/view.ts';
import { MemoryRunner } from '../../lib/testing/memory.ts';
import type { Workflow } from '../../lib/types.ts';

const workflow: Workflow = {
  name: 'reminder',
  tasks: { t_remind: { after: ['noAnswer'], run: 'remind' } },
  timers: { noAnswer: { after: '1h', from: 'asked' } },
};

describe('a session with a timer', () => {
  it('lists the timer armed with its due time, then fired, and never as an instance', async () => {
    const registry = new WorkflowRegistry([workflow]);
    const runner = new MemoryRunner(registry, { remind: () => ({}) }, silentSink);
    const deps = { store: runner.store, registry, clock: runner.clock };
    await fireEvent(deps, { sessionId: 's1', trigger: 'asked' });
    await runner.settle(10_000);

    const armed = await readSession(deps, 's1');
    const armedAt = armed?.timers?.[0]?.armedAt as string;
    expect(armed?.timers).toEqual([
      {
        name: 'noAnswer',
        status: 'armed',
        armedAt,
        dueAt: new Date(Date.parse(armedAt) + 3600_000).toISOString(),
      },
    ]);
    expect(armed?.instances).toEqual([]);
    expect(renderSession(armed as NonNullable<typeof armed>, { colour: false })).toContain(
      `timers:\n  noAnswer armed, due ${new Date(Date.parse(armedAt) + 3600_000).toISOString()}`,
    );

    await runner.advance(3600, 10_000);

    const fired = await readSession(deps, 's1');
    expect(fired?.timers?.map((t) => t.status)).toEqual(['fired']);
    expect(fired?.instances.map((i) => `${i.name} ${i.status}`)).toEqual(['t_remind#0 finished']);
    expect(fired?.fired.noAnswer).toEqual({ count: 1 });
    runner.close();
  });
});
