/**
 * The lifecycle both local event sources share: a loop started once, stopped by flipping a flag
 * (and cutting an open long poll short), with a count of what it delivered and whether it holds
 * a batch right now.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
export abstract class PollingLoop {
  protected running = false;
  protected busy = false;
  protected delivered = 0;
  /** Aborts an open long poll when the loop stops. */
  protected readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  /** The loop itself: runs while `running`. */
  protected abstract run(): Promise<void>;

  /** Starts polling. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops polling and waits for the batch in hand to finish. */
  async stop(): Promise<void> {
    this.running = false;
    // Cut a long poll short; a batch in hand still finishes.
    if (!this.busy) this.abort.abort();
    await this.loop;
  }

  /** Records or messages handed to the handler so far. */
  get deliveredCount(): number {
    return this.delivered;
  }
}
