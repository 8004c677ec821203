/**
 * Where the runtime reads time: the `Clock` seam, the machine's clock, and the virtual clock the
 * test runners move (`HeldMessages` in `held-messages.ts` moves it).
 * May import: base, engine, store, core.
 *
 * @module
 */

/**
 * Where the runtime reads time: the engine never does.
 *
 * @example
 * const fixed: Clock = { now: () => new Date('2026-01-01T00:00:00Z') };
 */
export interface Clock {
  now(): Date;
}

/**
 * The ISO 8601 time `seconds` after the ISO 8601 time `iso` (a timer's due time, say).
 *
 * @example
 * addSeconds('2026-01-01T00:00:00.000Z', 90); // '2026-01-01T00:01:30.000Z'
 */
export function addSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

/**
 * The machine's clock.
 *
 * @example
 * systemClock.now(); // the current time
 */
export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that runs with real time plus an offset that `advance` moves forward.
 *
 * @example
 * const clock = new VirtualClock();
 * clock.advance(3_600_000); // an hour later, at once
 */
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

/**
 * Settles as `work` does, or rejects with `onTimeout()` once `ms` milliseconds have passed,
 * whichever comes first; the timer is cleared either way.
 *
 * @example
 * await withinDeadline(pump.idle(), 10_000, () => new SettleTimeoutError('still busy'));
 */
export async function withinDeadline<T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
