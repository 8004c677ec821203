/**
 * DynamoDB cost of a session, measured on DynamoDB Local through the store's capacity meter
 * (`ReturnConsumedCapacity: 'TOTAL'` on every call), not estimated.
 *
 * Targets:
 * - a simple session (two triggers -> one task, kwargs under 1 KB) costs at most 24 write units
 *   and 6 read units (strongly consistent reads counted as DynamoDB counts them);
 * - the 1,000th event of an `andEvery` session costs at most 1.2 times the 10th.
 *
 * Units are split into reads and writes by the operation that consumed them: DynamoDB (Local
 * included) answers a single-item write such as `PutItem` or `UpdateItem` with `CapacityUnits`
 * only, no `WriteCapacityUnits`, so the meter's own read/write split cannot be taken as is.
 *
 * These are DynamoDB Local's numbers. Its `TransactWriteItems` accounting is not AWS's
 * documented one (2 write units per KB per item): it reports 4 units for any transaction whose
 * items all fit in 1 KB, whatever their number, and more than AWS for larger items.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CapacityEntry } from '../../lib/store/dynamo-store.ts';
import {
  createTestRuntime,
  type LifecycleHooks,
  type TestRuntime,
} from '../../lib/testing/index.ts';
import type { TaskConfig } from '../../lib/types.ts';

const WRITE_BUDGET = 24;
const READ_BUDGET = 6;
const FLATNESS = 1.2;

interface Units {
  reads: number;
  writes: number;
}

interface OperationCost extends Units {
  calls: number;
}

/** Collects what the meter reports; `take()` hands back what came since the last `take()`. */
class Meter {
  private entries: CapacityEntry[] = [];
  readonly record = (entry: CapacityEntry): void => {
    this.entries.push(entry);
  };

  take(): CapacityEntry[] {
    return this.entries.splice(0);
  }
}

function unitsOf(entry: CapacityEntry): Units {
  // The store books each call's units as reads or writes by what the call does.
  return { reads: entry.readUnits, writes: entry.writeUnits };
}

function total(entries: readonly CapacityEntry[]): Units {
  return entries.reduce(
    (sum, e) => {
      const u = unitsOf(e);
      return { reads: sum.reads + u.reads, writes: sum.writes + u.writes };
    },
    { reads: 0, writes: 0 },
  );
}

function byOperation(entries: readonly CapacityEntry[]): Map<string, OperationCost> {
  const out = new Map<string, OperationCost>();
  for (const e of entries) {
    const u = unitsOf(e);
    const row = out.get(e.operation) ?? { calls: 0, reads: 0, writes: 0 };
    out.set(e.operation, {
      calls: row.calls + 1,
      reads: row.reads + u.reads,
      writes: row.writes + u.writes,
    });
  }
  return out;
}

function table(title: string, entries: readonly CapacityEntry[]): string {
  const rows = [...byOperation(entries)].map(([op, c]) =>
    [
      op.padEnd(18),
      String(c.calls).padStart(5),
      String(c.reads).padStart(7),
      String(c.writes).padStart(7),
    ].join(' '),
  );
  const t = total(entries);
  return [
    title,
    `${'operation'.padEnd(18)} ${'calls'.padStart(5)} ${'RCU'.padStart(7)} ${'WCU'.padStart(7)}`,
    ...rows,
    `${'total'.padEnd(18)} ${String(entries.length).padStart(5)} ${String(t.reads).padStart(7)} ${String(t.writes).padStart(7)}`,
    `the meter's own split: ${entries.reduce((n, e) => n + e.readUnits, 0)} read, ${entries.reduce((n, e) => n + e.writeUnits, 0)} write units`,
    `calls in order: ${entries.map((e) => `${e.operation}(${unitsOf(e).reads || unitsOf(e).writes})`).join(' ')}`,
  ].join('\n');
}

const started: TestRuntime[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((rt) => rt.close()));
});

async function start(
  workflow: Record<string, TaskConfig>,
  meter: Meter,
  hooks?: LifecycleHooks,
): Promise<TestRuntime> {
  const rt = await createTestRuntime({
    workflow,
    handlers: { h: () => ({ ok: true, n: 1 }) },
    backend: 'dynamodb-local',
    meter: meter.record,
    ...(hooks ? { hooks } : {}),
  });
  started.push(rt);
  return rt;
}

describe('DynamoDB cost', () => {
  const simpleCases = [
    { name: 'x and y fired together', bytes: 250, settleBetween: false },
    { name: 'x settled before y is fired', bytes: 250, settleBetween: true },
    {
      name: 'kwargs of 490 bytes each (980 in all), settled between',
      bytes: 490,
      settleBetween: true,
    },
  ];
  it.each(simpleCases)(
    `a simple session costs at most ${WRITE_BUDGET} write units and ${READ_BUDGET} read units: $name`,
    async ({ name, bytes, settleBetween }) => {
      const meter = new Meter();
      const rt = await start({ t_a: { after: ['x', 'y'], run: 'h' } }, meter);
      const s = rt.session('simple');
      const kwargsOf = (trigger: string) => {
        const base = { trigger, customer: 'c-123', items: [1, 2, 3], note: '' };
        return { ...base, note: 'a'.repeat(bytes - JSON.stringify(base).length) };
      };
      expect(JSON.stringify(kwargsOf('x')).length).toBe(bytes);
      // The target's case: the session's kwargs together stay under 1 KB.
      expect(2 * bytes).toBeLessThan(1024);

      await s.fire('x', kwargsOf('x'));
      if (settleBetween) await rt.settle();
      await s.fire('y', kwargsOf('y'));
      await rt.settle();
      const session = meter.take();

      // Only now look at the result: these reads are the test's, not the session's.
      expect((await s.instance('t_a#0'))?.status).toBe('finished');
      meter.take();

      const cost = total(session);
      console.log(table(`simple session, ${name} (x, y -> t_a -> cascade)`, session));
      expect(cost.reads).toBeGreaterThan(0);
      expect(cost.writes).toBeGreaterThan(0);
      expect(cost.writes, 'write units of a simple session').toBeLessThanOrEqual(WRITE_BUDGET);
      expect(cost.reads, 'read units of a simple session').toBeLessThanOrEqual(READ_BUDGET);
    },
  );

  it('lifecycle events cost no unit: the notes ride in the head write the evaluation makes anyway', async () => {
    const session = async (tasks: Record<string, TaskConfig>, hooks?: LifecycleHooks) => {
      const meter = new Meter();
      const rt = await start(tasks, meter, hooks);
      const s = rt.session('simple');
      const kwargs = { customer: 'c-123', items: [1, 2, 3], note: 'a'.repeat(200) };
      await s.fire('x', kwargs);
      await rt.settle();
      await s.fire('y', kwargs);
      await rt.settle();
      return meter.take();
    };
    const simple = { t_a: { after: ['x', 'y'], run: 'h' } };
    // A cascade something listens to: its event is written and applied, and noted.
    const chain = { ...simple, t_b: { after: ['t_a'], run: 'h' } };
    for (const [name, tasks, heardOn] of [
      ['simple', simple, ['x []', 'y [t_a#0]', 't_a []']],
      ['chain', chain, ['x []', 'y [t_a#0]', 't_a [t_b#0]', 't_b []']],
    ] as const) {
      const fired: string[] = [];
      const off = await session(tasks);
      const on = await session(tasks, {
        afterFire: (e) => fired.push(`${e.trigger} [${e.scheduled}]`),
      });
      console.log(table(`${name} session, lifecycle events off`, off));
      console.log(table(`${name} session, lifecycle events on`, on));
      // The hooks heard the session: the notes were written and read back off the stream.
      expect(fired).toEqual(heardOn);
      expect(total(on), name).toEqual(total(off));
      expect(on.map((e) => e.operation)).toEqual(off.map((e) => e.operation));
    }
  });

  it(`the 1,000th event of an andEvery session costs at most ${FLATNESS} times the 10th`, async () => {
    const meter = new Meter();
    const rt = await start({ t_page: { after: ['start'], andEvery: 'page', run: 'h' } }, meter);
    const s = rt.session('pages');
    const began = Date.now();
    let fired = 0;

    /** Fires pages until `fired` reaches `upTo`, `batch` at a time, settling after each batch. */
    const fireUpTo = async (upTo: number, batch: number) => {
      while (fired < upTo) {
        const n = Math.min(batch, upTo - fired);
        const firing: Promise<void>[] = [];
        for (let i = 0; i < n; i++) {
          fired += 1;
          firing.push(s.fire('page', { page: fired }));
        }
        await Promise.all(firing);
        await rt.settle({ timeoutMs: 120_000 });
      }
    };
    /** Fires exactly the next page alone on a settled session and returns what it cost. */
    const measureNext = async (): Promise<{ units: Units; entries: CapacityEntry[] }> => {
      await rt.settle({ timeoutMs: 120_000 });
      meter.take();
      fired += 1;
      await s.fire('page', { page: fired });
      await rt.settle({ timeoutMs: 120_000 });
      const entries = meter.take();
      return { units: total(entries), entries };
    };

    await s.fire('start', { run: 'r-1' });
    await rt.settle();
    await fireUpTo(9, 9);
    const tenth = await measureNext();
    expect(fired).toBe(10);
    await fireUpTo(999, 50);
    const thousandth = await measureNext();
    expect(fired).toBe(1000);
    const seconds = (Date.now() - began) / 1000;
    meter.take();

    // The 1,000th page really is the 1,000th, and each one ran once.
    const instances = await s.instances();
    expect(instances.filter((i) => i.task === 't_page')).toHaveLength(1000);
    expect(instances.every((i) => i.status === 'finished')).toBe(true);
    expect((await s.instance('t_page#999'))?.kwargs).toEqual({
      start: { run: 'r-1' },
      page: { page: 1000 },
    });
    meter.take();

    console.log(
      [
        table('page #10', tenth.entries),
        table('page #1000', thousandth.entries),
        `1,000 pages fired and settled in ${seconds.toFixed(1)} s`,
      ].join('\n\n'),
    );
    expect(tenth.units.reads).toBeGreaterThan(0);
    expect(tenth.units.writes).toBeGreaterThan(0);
    expect(thousandth.units.writes, 'write units of page #1000 vs page #10').toBeLessThanOrEqual(
      FLATNESS * tenth.units.writes,
    );
    expect(thousandth.units.reads, 'read units of page #1000 vs page #10').toBeLessThanOrEqual(
      FLATNESS * tenth.units.reads,
    );
  }, 600_000);
});
