/**
 * What can happen to a session (fires, clones, replays, skips, notices, handler outcomes), what
 * the I/O shell must do after each (effects), and the ids of the events the system makes itself.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import type { InstanceError, InstanceStatus, Kwargs, LogLevel } from '../types.ts';
import type { SessionState } from './state.ts';

/** Where a new instance's kwargs come from. */
export type KwargsSource =
  /** Trigger → event id; the kwargs are that event's kwargs. */
  | { refs: Record<string, string> }
  /** The same kwargs as another instance (a clone without replacement kwargs). */
  | { inherit: string }
  /** These kwargs exactly (replacement kwargs of a replay or retry). */
  | { literal: Record<string, Kwargs> };

/** What the storage layer needs to write an instance that leaves the unstarted state. */
export interface InstanceSeed {
  name: string;
  task: string;
  attempt: number;
  parent?: string;
  kwargs: KwargsSource;
  createdAt: string;
  /** Metadata merged in while it was unstarted. */
  metadata?: Kwargs;
}

/** A trigger fired into the session (by the application, a handler, or a cascade). */
export interface FireEvent {
  type: 'fire';
  eventId: string;
  trigger: string;
  at: string;
}

/** Create a clone of a replayed instance and schedule it (a handler's `Retry`). */
export interface CloneEvent {
  type: 'clone';
  eventId: string;
  parent: string;
  task: string;
  parentAttempt: number;
  kwargs?: Record<string, Kwargs>;
  delaySeconds?: number;
  at: string;
}

/** A request to replay a failed instance; `observed` is its record as read, if it exists. */
export interface ReplayEvent {
  type: 'replay';
  eventId: string;
  instance: string;
  observed?: { status: InstanceStatus; task: string; attempt: number };
  kwargs?: Record<string, Kwargs>;
  at: string;
}

/** A request to skip a failed instance; `observed` is its record as read, if it exists. */
export interface SkipEvent {
  type: 'skip';
  eventId: string;
  instance: string;
  observed?: { status: InstanceStatus; task: string; attempt?: number };
  cascade: boolean;
  result?: Kwargs;
  at: string;
}

/** What an admin request observed of its instance when the evaluator applied it. */
export interface Observed {
  status: InstanceStatus;
  task: string;
  metadata?: Kwargs;
}

/** Merge metadata into an instance's (top level), whatever its status. */
export interface MetadataEvent {
  type: 'metadata';
  eventId: string;
  instance: string;
  observed?: Observed;
  metadata: Kwargs;
  at: string;
}

/** Mark an instance's logs as dealt with. */
export interface ResolveLogsEvent {
  type: 'resolve-logs';
  eventId: string;
  instance: string;
  observed?: Observed;
  at: string;
}

/**
 * Set an instance's status by hand (an operator settling it), merging `metadata`; with
 * `cascade` (only to `finished`), fire the task's name with `cascadeKwargs`.
 */
export interface StatusEvent {
  type: 'status';
  eventId: string;
  instance: string;
  observed?: Observed;
  status: InstanceStatus;
  metadata?: Kwargs;
  cascade: boolean;
  cascadeKwargs?: Kwargs;
  at: string;
}

/**
 * The session's task configuration changed: from this event on it runs under workflow version
 * `version` (the I/O shell merged the tasks, validated and stored the definition).
 */
export interface ConfigureEvent {
  type: 'configure';
  eventId: string;
  version: string;
  at: string;
}

/** What a handler did, as the task runner saw it. */
export type HandlerOutcome =
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; error: InstanceError }
  | { kind: 'retry'; cooldownSeconds?: number; replacementKwargs?: Record<string, Kwargs> }
  | { kind: 'skip'; metadata?: Kwargs };

/** A handler's outcome for a running instance. */
export interface OutcomeEvent {
  type: 'outcome';
  instance: string;
  task: string;
  attempt: number;
  outcome: HandlerOutcome;
  logLevel?: LogLevel;
  at: string;
}

/**
 * A notice that an instance was resolved without a cascade (a handler's `Skip`), written only
 * for workflows with a finalize trigger, which must know when every instance is resolved.
 */
export interface ResolvedEvent {
  type: 'resolved';
  eventId: string;
  instance: string;
  at: string;
}

/** Everything that can happen to a session. */
export type SessionEvent = SessionStateEvent | OutcomeEvent;

/** Events that change the session state and so go through the evaluator, one at a time. */
export type SessionStateEvent =
  | FireEvent
  | CloneEvent
  | ReplayEvent
  | SkipEvent
  | ResolvedEvent
  | MetadataEvent
  | ResolveLogsEvent
  | StatusEvent
  | ConfigureEvent;

/** What the I/O shell must do after an event. */
export type Effect =
  /** A new instance exists (it stays in the state while unstarted). */
  | { type: 'create'; instance: string; task: string; at: string }
  /** Write the instance as scheduled and hand it to its runner, after `delaySeconds`. */
  | { type: 'schedule'; instance: InstanceSeed; delaySeconds: number }
  /** Write the instance as abandoned. */
  | { type: 'abandon'; instance: InstanceSeed }
  /** Change an existing instance's record, only if its status is one of `expect`. */
  | {
      type: 'record';
      instance: string;
      task: string;
      expect: InstanceStatus[];
      status: InstanceStatus;
      result?: Kwargs;
      error?: InstanceError;
      metadata?: Kwargs;
      logLevel?: LogLevel;
      logsResolved?: boolean;
      /** Keep a running instance's claim (an annotation, not a status change). */
      keepLease?: boolean;
      at: string;
    }
  /**
   * Fire `trigger` into the same session with `kwargs`, as event `eventId` (idempotent): a
   * finished task's name, or the finalize trigger (`source: 'finalize'`).
   */
  | {
      type: 'cascade';
      eventId: string;
      trigger: string;
      kwargs: Kwargs;
      /** @default 'cascade'; 'control' for the cascade of a status set by hand */
      source?: 'finalize' | 'timer' | 'control';
      /** The cascade of a skip: its skip is reported after its fire (lifecycle events). */
      skip?: true;
    }
  /** Tell the session that an instance was resolved without a cascade (see `ResolvedEvent`). */
  | { type: 'notice'; eventId: string; instance: string }
  /** Insert this clone event into the session (a handler's `Retry`). */
  | { type: 'retry'; event: CloneEvent }
  /** The event was refused and changes nothing. */
  | {
      type: 'reject';
      eventId: string;
      code: 'NOT_FOUND' | 'INSTANCE_NOT_FAILED' | 'INSTANCE_STATE';
      message: string;
    };

/** The result of applying one event. */
export interface Applied {
  state: SessionState;
  effects: Effect[];
}

/**
 * Ids of events the system makes itself. They contain `#`, which application event ids may
 * not, so no application event can take (and so suppress) one of them.
 *
 * @example
 * internalEventId('cascade', 't_a#0'); // 'cascade#t_a#0'
 */
export function internalEventId(kind: string, ...parts: Array<string | number>): string {
  return [kind, ...parts].join('#');
}

/**
 * The id of the cascade event an instance fires when it finishes (or is skipped with cascade).
 *
 * @example
 * cascadeEventId('t_a#0'); // 'cascade#t_a#0'
 */
export function cascadeEventId(instance: string): string {
  return internalEventId('cascade', instance);
}

/**
 * The id of the clone event an instance's `Retry` inserts.
 *
 * @example
 * retryEventId('t_a#0'); // 'retry#t_a#0'
 */
export function retryEventId(instance: string): string {
  return internalEventId('retry', instance);
}

/**
 * The id of the notice an instance resolved without a cascade writes.
 *
 * @example
 * resolvedEventId('t_a#0'); // 'resolved#t_a#0'
 */
export function resolvedEventId(instance: string): string {
  return internalEventId('resolved', instance);
}

/**
 * The id of the cascade an instance set to `finished` by hand fires (`StatusEvent`): one per
 * request, so settling an instance twice cascades twice, as the original does.
 *
 * @example
 * statusCascadeEventId('t_a#0', 'status#9f…'); // 'status-cascade#t_a#0#status#9f…'
 */
export function statusCascadeEventId(instance: string, eventId: string): string {
  return internalEventId('status-cascade', instance, eventId);
}

/** The id of a session's finalize event (there is at most one): `'finalize#session'`. */
export const FINALIZE_EVENT_ID = internalEventId('finalize', 'session');
