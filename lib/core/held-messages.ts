/**
 * Messages held on a virtual clock, once for every test runner: cooldowns, timers and
 * redeliveries wait here until the clock makes them due, and `settle` / `advance` move the clock.
 * May import: base, engine, store, core.
 *
 * @module
 */
import type { VirtualClock } from './clock.ts';

/**
 * What `HeldMessages` needs of the runner that holds messages.
 *
 * @example
 * const opts: HeldMessagesOptions<TaskMessage> = { clock, release: deliver, quiet: idleBefore };
 */
export interface HeldMessagesOptions<T> {
  /** The runner's virtual clock: `settle` and `advance` move it. */
  readonly clock: VirtualClock;
  /** Delivers a message that fell due (to the runner's task runner, or to its queue). */
  readonly release: (message: T) => void | Promise<void>;
  /**
   * Resolves once nothing is in flight in the runner; rejects with the runner's error, or with
   * `SettleTimeoutError` when `deadline` (epoch ms, real time) passes first.
   */
  readonly quiet: (deadline: number) => Promise<void>;
}

interface Held<T> {
  readonly message: T;
  readonly visibleAt: number;
  /** A timer's first delivery: only the clock's moving (`advance`) makes it due. */
  readonly timer: boolean;
}

/**
 * The messages a test runner holds on its virtual clock rather than on a queue's real delay, so
 * that a test never waits real time: `settle` moves the clock to the earliest held cooldown or
 * redelivery (never a timer), `advance` moves it forward, a due message at a time, so that what
 * falls due fires in time order.
 *
 * @example
 * const held = new HeldMessages<TaskMessage>({
 *   clock,
 *   release: (message) => deliver(message),
 *   quiet: (deadline) => idleBefore(deadline),
 * });
 * held.hold({ sessionId: 's1', instance: 't_a#0' }, 60, false);
 * await held.settle(30_000); // the clock moved 60 s; the message was delivered
 */
export class HeldMessages<T> {
  private readonly held: Array<Held<T>> = [];

  constructor(private readonly opts: HeldMessagesOptions<T>) {}

  /**
   * Holds `message` until the clock is `delaySeconds` further on. A `timer` is made due only by
   * `advance`: `settle` never moves the clock to it.
   */
  hold(message: T, delaySeconds: number, timer: boolean): void {
    this.held.push({
      message,
      visibleAt: this.opts.clock.now().getTime() + delaySeconds * 1000,
      timer,
    });
  }

  /**
   * Waits until nothing is in flight; when only held messages are left, moves the clock to the
   * earliest that is not a timer, releases what is due, and goes on. Rejects with what `quiet`
   * rejects with.
   */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const { clock } = this.opts;
    for (;;) {
      await this.opts.quiet(deadline);
      const earliest = this.nextDue((h) => !h.timer);
      if (earliest === Number.POSITIVE_INFINITY) return;
      clock.advance(earliest - clock.now().getTime());
      await this.releaseDue();
    }
  }

  /**
   * Moves the clock forward by `seconds`, a due message at a time (each settled before the
   * next), so that timers and cooldowns fire in time order; then settles.
   */
  async advance(seconds: number, timeoutMs: number): Promise<void> {
    const { clock } = this.opts;
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    const until = clock.now().getTime() + seconds * 1000;
    await this.settle(left());
    for (;;) {
      const next = this.nextDue(() => true);
      if (!(next <= until)) break;
      clock.advance(Math.max(0, next - clock.now().getTime()));
      await this.releaseDue();
      await this.settle(left());
    }
    clock.advance(Math.max(0, until - clock.now().getTime()));
    await this.settle(left());
  }

  /** Drops every held message (the runner is closing). */
  clear(): void {
    this.held.length = 0;
  }

  /** When the earliest held message that `counts` falls due (epoch ms), or `Infinity`. */
  private nextDue(counts: (h: Held<T>) => boolean): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const h of this.held) if (counts(h) && h.visibleAt < earliest) earliest = h.visibleAt;
    return earliest;
  }

  /**
   * Releases every held message due on the clock, in the order they were held. Each leaves the
   * list just before its release, so one whose release throws takes no other with it.
   */
  private async releaseDue(): Promise<void> {
    const now = this.opts.clock.now().getTime();
    for (const h of this.held.filter((d) => d.visibleAt <= now)) {
      this.held.splice(this.held.indexOf(h), 1);
      await this.opts.release(h.message);
    }
  }
}
