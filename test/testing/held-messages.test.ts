/**
 * `HeldMessages`, the held-messages logic both test runners share: `settle` moves the virtual
 * clock to cooldowns and redeliveries but never to a timer; `advance` releases what falls due in
 * time order, each settled before the next; `clear` drops everything.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../lib/core/clock.ts';
import { HeldMessages } from '../../lib/core/held-messages.ts';
import { SettleTimeoutError } from '../../lib/errors.ts';

/** A held-messages list over a fresh clock that records what it released, and when. */
function setup() {
  const clock = new VirtualClock();
  const start = clock.now().getTime();
  const released: Array<{ name: string; atSeconds: number }> = [];
  let quietCalls = 0;
  const held = new HeldMessages<string>({
    clock,
    release: (name) => {
      released.push({ name, atSeconds: Math.round((clock.now().getTime() - start) / 1000) });
    },
    quiet: async () => {
      quietCalls += 1;
    },
  });
  return { clock, start, held, released, quietCalls: () => quietCalls };
}

describe('HeldMessages', () => {
  it('settle moves the clock to every cooldown, earliest first, but never to a timer', async () => {
    const { clock, start, held, released } = setup();
    held.hold('timer', 600, true);
    held.hold('late', 120, false);
    held.hold('early', 60, false);
    await held.settle(5_000);
    expect(released.map((r) => r.name)).toEqual(['early', 'late']);
    expect(released.map((r) => r.atSeconds)).toEqual([60, 120]);
    expect(Math.round((clock.now().getTime() - start) / 1000)).toBe(120);
  });

  it('a timer the clock passed on its way to a cooldown is released with it', async () => {
    const { held, released } = setup();
    held.hold('timer', 30, true);
    held.hold('cooldown', 60, false);
    await held.settle(5_000);
    expect(released).toEqual([
      { name: 'timer', atSeconds: 60 },
      { name: 'cooldown', atSeconds: 60 },
    ]);
  });

  it('settle with nothing held asks the runner once and leaves the clock alone', async () => {
    const { clock, start, held, quietCalls } = setup();
    await held.settle(5_000);
    expect(quietCalls()).toBe(1);
    expect(clock.now().getTime() - start).toBeLessThan(1_000);
  });

  it('advance releases timers and cooldowns in time order and stops at its end', async () => {
    const { clock, start, held, released } = setup();
    held.hold('t2', 7_200, true);
    held.hold('t1', 3_600, true);
    held.hold('beyond', 90_000, true);
    await held.advance(86_400, 5_000);
    expect(released).toEqual([
      { name: 't1', atSeconds: 3_600 },
      { name: 't2', atSeconds: 7_200 },
    ]);
    expect(Math.round((clock.now().getTime() - start) / 1000)).toBe(86_400);
    await held.advance(3_600, 5_000);
    expect(released.at(-1)).toEqual({ name: 'beyond', atSeconds: 90_000 });
  });

  it('a message released while advancing is held and released in its turn', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const released: Array<[string, number]> = [];
    const held: HeldMessages<string> = new HeldMessages<string>({
      clock,
      release: (name) => {
        released.push([name, Math.round((clock.now().getTime() - start) / 1000)]);
        if (name === 'first') held.hold('cooldown', 10, false);
      },
      quiet: async () => {},
    });
    held.hold('first', 60, true);
    held.hold('second', 600, true);
    await held.advance(3_600, 5_000);
    expect(released).toEqual([
      ['first', 60],
      ['cooldown', 70],
      ['second', 600],
    ]);
  });

  it("rejects with the runner's quiet error", async () => {
    const held = new HeldMessages<string>({
      clock: new VirtualClock(),
      release: () => {},
      quiet: async () => {
        throw new SettleTimeoutError('still busy');
      },
    });
    held.hold('a', 5, false);
    await expect(held.settle(1_000)).rejects.toBeInstanceOf(SettleTimeoutError);
  });

  it('clear drops every held message', async () => {
    const { held, released } = setup();
    held.hold('cooldown', 5, false);
    held.hold('timer', 60, true);
    held.clear();
    await held.advance(3_600, 5_000);
    expect(released).toEqual([]);
  });
});
