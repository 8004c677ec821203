/** Where the runtime reads time: the engine never does. */
export interface Clock {
  now(): Date;
}

/** The ISO 8601 time `seconds` after the ISO 8601 time `iso` (a timer's due time, say). */
export function addSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

/** The machine's clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that runs with real time plus an offset that `advance` moves forward. */
export class VirtualClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    if (ms > 0) this.offsetMs += ms;
  }
}

/** What `advanceInSteps` needs of a runner that holds delayed messages on a virtual clock. */
export interface HeldDelays {
  /** When the earliest held message falls due (epoch ms), or `Infinity` when none is held. */
  nextDue(): number;
  /** Sends every held message that is due now. */
  releaseDue(): void | Promise<void>;
  /** Waits until nothing is in flight, within `timeoutMs`. */
  settle(timeoutMs: number): Promise<void>;
}

/**
 * Moves `clock` forward by `seconds`, one due message at a time (each settled before the next),
 * so that timers and cooldowns fire in time order; then settles. Both test backends' runners
 * advance this way.
 *
 * @example
 * await advanceInSteps(runner.clock, 86_400, 30_000, runner);
 */
export async function advanceInSteps(
  clock: VirtualClock,
  seconds: number,
  timeoutMs: number,
  held: HeldDelays,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(0, deadline - Date.now());
  const until = clock.now().getTime() + seconds * 1000;
  await held.settle(left());
  for (;;) {
    const next = held.nextDue();
    if (!(next <= until)) break;
    clock.advance(Math.max(0, next - clock.now().getTime()));
    await held.releaseDue();
    await held.settle(left());
  }
  clock.advance(Math.max(0, until - clock.now().getTime()));
  await held.settle(left());
}
