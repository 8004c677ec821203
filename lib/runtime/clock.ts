/** Where the runtime reads time: the engine never does. */
export interface Clock {
  now(): Date;
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
