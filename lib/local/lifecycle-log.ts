/**
 * The local stack's lifecycle log: the lifecycle events the runner reads off the stream, printed
 * one line each and kept in memory, a bounded number per session, for the inspector's timeline.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { LifecycleEvent } from '../core/lifecycle.ts';

/** A lifecycle event as the log keeps it: with when the local stack heard of it. */
export type LifecycleEntry = LifecycleEvent & {
  /** When the event was recorded (ISO 8601): lifecycle events carry no time of their own. */
  recordedAt: string;
};

/** Options of `LifecycleLog`. */
export interface LifecycleLogOptions {
  /** Where each new event goes, as one line. @default - nowhere */
  readonly print?: (line: string) => void;
  /** The most events kept per session; older ones are dropped first. @default 500 */
  readonly perSession?: number;
  /** The most sessions kept; the one recorded into longest ago is dropped first. @default 1000 */
  readonly maxSessions?: number;
  /** The clock of `recordedAt`. @default - the system clock */
  readonly now?: () => Date;
}

/** Whitespace collapsed and cut to `max` characters: one line whatever an error message holds. */
function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * A lifecycle event as one line: `lifecycle`, its `detail-type`, the session, then its fields.
 *
 * @example
 * lifecycleLine({ detailType: 'Trigger Fired', detail: { id: 'fired:s1:e1', sessionId: 's1',
 *   workflow: 'w', trigger: 'go', eventId: 'e1', scheduled: ['t_a#0'] } });
 * // 'lifecycle Trigger Fired s1 trigger=go scheduled=t_a#0'
 */
export function lifecycleLine(event: LifecycleEvent): string {
  const head = `lifecycle ${event.detailType} ${event.detail.sessionId}`;
  switch (event.detailType) {
    case 'Trigger Fired': {
      const { trigger, scheduled } = event.detail;
      return `${head} trigger=${trigger} scheduled=${scheduled.length > 0 ? scheduled.join(',') : 'none'}`;
    }
    case 'Instance Replayed':
      return `${head} instance=${event.detail.instance} parent=${event.detail.parent}`;
    case 'Instance Skipped':
      return `${head} instance=${event.detail.instance} cascade=${event.detail.cascade}`;
    case 'Instance Failed': {
      const { instance, error } = event.detail;
      return `${head} instance=${instance} error=${oneLine(`${error.type}: ${error.message}`)}`;
    }
    case 'Session Finalized':
      return `${head} workflow=${event.detail.workflow}`;
  }
}

/**
 * The lifecycle events of the local stack, in memory: each new one printed as one line and kept
 * under its session, the last `perSession` of each, for at most `maxSessions` sessions. An event
 * seen again (the stream delivers at least once: same `id`) is neither printed nor kept twice.
 *
 * @example
 * const log = new LifecycleLog({ print: (line) => process.stdout.write(`${line}\n`) });
 * log.record(events);
 * log.forSession('s1'); // the events of s1, oldest first
 */
export class LifecycleLog {
  /** Per session, its entries by id in the order recorded (a Map keeps insertion order). */
  private readonly sessions = new Map<string, Map<string, LifecycleEntry>>();
  private readonly print: ((line: string) => void) | undefined;
  private readonly perSession: number;
  private readonly maxSessions: number;
  private readonly now: () => Date;

  constructor(opts: LifecycleLogOptions = {}) {
    this.print = opts.print;
    this.perSession = Math.max(1, opts.perSession ?? 500);
    this.maxSessions = Math.max(1, opts.maxSessions ?? 1000);
    this.now = opts.now ?? (() => new Date());
  }

  /** Keeps and prints the events, in order; those already kept are skipped. */
  record(events: readonly LifecycleEvent[]): void {
    for (const event of events) {
      const { sessionId, id } = event.detail;
      let entries = this.sessions.get(sessionId);
      if (entries?.has(id)) continue;
      if (entries === undefined) {
        entries = new Map();
      } else {
        // Re-inserted, so the session recorded into longest ago is always first.
        this.sessions.delete(sessionId);
      }
      this.sessions.set(sessionId, entries);
      entries.set(id, { ...event, recordedAt: this.now().toISOString() } as LifecycleEntry);
      if (entries.size > this.perSession) {
        entries.delete(entries.keys().next().value as string);
      }
      if (this.sessions.size > this.maxSessions) {
        this.sessions.delete(this.sessions.keys().next().value as string);
      }
      this.print?.(lifecycleLine(event));
    }
  }

  /** The events kept for a session, oldest first; empty for a session never heard of. */
  forSession(sessionId: string): LifecycleEntry[] {
    return [...(this.sessions.get(sessionId)?.values() ?? [])];
  }
}
