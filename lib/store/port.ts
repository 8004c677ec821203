/**
 * The storage port every backend implements (the DynamoDB store, the in-memory store): the
 * records it keeps, the commits it makes atomically, and the reads of the flows over it.
 * May import: engine, base (lib/types.ts, lib/errors.ts).
 *
 * @module
 */
import { setOwn } from '../engine/kwargs.ts';
import type { SessionState } from '../engine/state.ts';
import type { InstanceStatus, Kwargs, TaskConfig, TaskInstance, Workflow } from '../types.ts';

/**
 * Who put an event into a session: the API, a handler's `fire`, a finished task's cascade, a
 * `Retry`, a replay or skip request, a timer, the finalize trigger, or the task runner's notice
 * that an instance was resolved without a cascade.
 */
export type EventSource =
  | 'api'
  | 'handler'
  | 'cascade'
  | 'retry'
  | 'control'
  | 'timer'
  | 'finalize'
  | 'runner';

/**
 * A request of the manager API, as stored: replay or skip a failed instance, merge metadata
 * into an instance, mark its logs resolved, set its status by hand, or configure the session.
 */
export type ControlRequest =
  | { kind: 'replay'; instance: string; kwargs?: Record<string, Kwargs> }
  | { kind: 'skip'; instance: string; cascade: boolean; result?: Kwargs }
  | { kind: 'metadata'; instance: string; metadata: Kwargs }
  | { kind: 'resolve-logs'; instance: string }
  | {
      kind: 'status';
      instance: string;
      status: InstanceStatus;
      metadata?: Kwargs;
      cascade: boolean;
      cascadeKwargs?: Kwargs;
    }
  | { kind: 'configure'; tasks: Record<string, TaskConfig> };

/**
 * Where an event sits in the change stream that delivered it: the stream's identity and the
 * record's sequence number (a decimal string). The evaluator applies a session's events in
 * this order and remembers, in the session head, the position of the last one it applied.
 */
export interface StreamPosition {
  stream: string;
  sequence: string;
}

/**
 * Orders stream sequence numbers: decimal strings (up to 40 digits on DynamoDB Streams), so
 * compared by length first, then as text.
 */
export function compareSequence(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** A stored event: a fired trigger or a control request, applied once by the evaluator. */
export type EventRecord = {
  sessionId: string;
  eventId: string;
  /** Set by the in-memory store: the order in which it accepted the session's events. */
  seq?: number;
  /** Set by the stream that delivers it to the evaluator (never stored). */
  position?: StreamPosition;
  source: EventSource;
  /** The workflow to create the session with, when this event creates it. */
  workflow?: string;
  firedAt: string;
} & (
  | {
      kind: 'fire';
      trigger: string;
      kwargs: Kwargs;
      /** The cascade of a skip (see the `cascade` effect): its skip is reported after it. */
      skip?: true;
    }
  | {
      kind: 'clone';
      parent: string;
      task: string;
      parentAttempt: number;
      kwargs?: Record<string, Kwargs>;
      delaySeconds?: number;
    }
  | ControlRequest
  | { kind: 'resolved'; instance: string }
);

/** An event as a change stream delivers it to the evaluator: with its stream position. */
export type DeliveredEvent = EventRecord & { position: StreamPosition };

/** A stored instance: the public `TaskInstance` plus what the runners need. */
export interface InstanceRecord extends TaskInstance {
  sessionId: string;
  /** The workflow of the session it belongs to. */
  workflow: string;
  /**
   * The workflow version the session is pinned to (absent for sessions created before
   * versions were pinned): the task runner decides outcomes under that version's rules.
   */
  workflowVersion?: string;
  /**
   * Where its kwargs are, when they are other events' kwargs: trigger → event id. The record's
   * `kwargs` is then empty until `resolveKwargs` fills it; this keeps the instance item small,
   * so claiming and recording it cost one write unit whatever the kwargs weigh.
   */
  kwargsRefs?: Record<string, string>;
  /** The handler (`run`) and queue (`using`, else the handler) of its task. */
  handler: string;
  queue: string;
  /** Seconds to wait before it is handed to its runner (a `Retry` cooldown). */
  delaySeconds?: number;
  /** While running: when the claim lapses and another delivery may take it over. */
  leaseUntil?: string;
}

/**
 * What the evaluator has applied of a session: the stream position of the last event it
 * applied (every event of the session up to there is applied, none after), and how many.
 */
export interface AppliedMark extends StreamPosition {
  count: number;
  /** When the evaluation that applied the last one committed. */
  at: string;
  /**
   * The task messages this evaluation owes: the instances it scheduled, which the evaluator
   * sends right after its commit. A re-delivery of the batch that holds the marked event (the
   * evaluator died between the commit and a send) sends them again. Absent when it scheduled
   * nothing, or when a dispatcher on the stream sends them instead. Runs of numbers, so a
   * commit of 100 `andEvery` instances adds one short entry to the head, not 100.
   */
  sends?: OwedRun[];
}

/**
 * Instances a commit scheduled: `task#first` to `task#last`, all sent to `queue` with the same
 * delay (seconds).
 */
export type OwedRun = [
  task: string,
  first: number,
  last: number,
  queue: string,
  delaySeconds: number,
];

/** Whether two stream positions are the same record. */
export function samePosition(a: StreamPosition, b: StreamPosition): boolean {
  return a.stream === b.stream && a.sequence === b.sequence;
}

/** The session head: the engine state, what is applied, and the version that guards both. */
export interface HeadRecord {
  sessionId: string;
  state: SessionState;
  version: number;
  /** Absent only on heads written before applied marks moved into the head. */
  applied?: AppliedMark;
}

/**
 * Whether the head says an event is applied: it is at or before the head's mark in the same
 * stream. A different stream (a table whose stream was re-created) holds only writes made after
 * the old one's records, so none of its events is applied yet.
 */
export function isApplied(head: HeadRecord | undefined, position: StreamPosition): boolean {
  const mark = head?.applied;
  return (
    mark !== undefined &&
    mark.stream === position.stream &&
    compareSequence(position.sequence, mark.sequence) <= 0
  );
}

/** A change to an instance's record, written only if its status is one of `expect`. */
export interface InstanceUpdate {
  sessionId: string;
  name: string;
  expect: InstanceStatus[];
  set: Partial<
    Pick<InstanceRecord, 'status' | 'result' | 'error' | 'metadata' | 'logLevel' | 'logsResolved'>
  > & {
    updatedAt: string;
  };
  /**
   * Keep a running instance's claim (its lease): an operator's annotation must not free an
   * instance a worker holds. @default false - the lease is dropped
   */
  keepLease?: boolean;
}

/**
 * What an evaluation noted, in the order it applied the events, for the lifecycle publisher
 * (see lib/core/lifecycle.ts): kept in the head it commits, read back off the stream.
 */
export type LifecycleNote =
  | { t: 'fired'; eventId: string; trigger: string; scheduled: string[] }
  | { t: 'replayed'; eventId: string; instance: string; parent: string }
  | { t: 'skipped'; eventId: string; instance: string; cascade: boolean }
  | { t: 'finalized' };

/** Everything one evaluation commits, atomically. */
export interface EvaluationCommit {
  sessionId: string;
  /** The head version read; undefined when the session had no head. */
  expectedVersion: number | undefined;
  state: SessionState;
  /** Events applied by this evaluation, in stream order (for observers; not written). */
  applied: string[];
  /** The head's new applied mark: the position of the last of `applied`. */
  mark: AppliedMark;
  /** New instance records (each must not exist yet). */
  created: InstanceRecord[];
  /** Changes to existing instances. */
  updated: InstanceUpdate[];
  /** Events to insert (cascades of skips), each only if absent. */
  events: EventRecord[];
  /**
   * What this evaluation did, for the lifecycle publisher: kept in the head item (it is
   * replaced by the next commit's) when lifecycle events are on and there is something.
   */
  notes?: LifecycleNote[];
  at: string;
}

/** Everything a task outcome commits, atomically. */
export interface OutcomeCommit {
  update: InstanceUpdate;
  /** The owner of the claim (the lease it holds). */
  leaseUntil?: string;
  /** Events to insert (the cascade, or a retry's clone request), each only if absent. */
  events: EventRecord[];
}

/**
 * The storage port every backend implements. The DynamoDB store and the in-memory store give
 * the same guarantees: conditional writes, atomic commits, one accept order per session.
 */
export interface SessionStore {
  /** Puts an event unless one with the same id exists; `duplicate` says it did. */
  putEvent(event: EventRecord): Promise<{ duplicate: boolean }>;
  /** The session's events by id (missing ids are absent from the map). */
  getEvents(sessionId: string, eventIds: readonly string[]): Promise<Map<string, EventRecord>>;
  /** Every event of the session (for inspection: a query, not on any hot path). */
  listEvents(sessionId: string): Promise<EventRecord[]>;
  /** The most items one commit may write (head, instances, events together). */
  readonly maxCommitItems: number;
  getHead(sessionId: string): Promise<HeadRecord | undefined>;
  /**
   * Commits an evaluation: the head (only if its version is still `expectedVersion`) with its
   * new mark, new and changed instances, new events, all or nothing. A commit that changes the
   * head alone is a single conditional write. Throws `ConflictError` when any condition fails.
   */
  commitEvaluation(commit: EvaluationCommit): Promise<void>;
  getInstance(sessionId: string, name: string): Promise<InstanceRecord | undefined>;
  listInstances(sessionId: string): Promise<InstanceRecord[]>;
  /**
   * Takes a scheduled instance (or a running one whose lease lapsed) and marks it running until
   * `leaseUntil`. Undefined when another delivery has it or it is resolved.
   */
  claimInstance(
    sessionId: string,
    name: string,
    now: string,
    leaseUntil: string,
  ): Promise<InstanceRecord | undefined>;
  /** Commits an outcome; false when the instance is no longer ours (status or lease moved on). */
  commitOutcome(commit: OutcomeCommit): Promise<boolean>;
  /**
   * Heads whose oldest unstarted instance was created before `olderThan`, oldest first, at
   * most `limit`. Optional: the DynamoDB store answers only with its stale index enabled.
   */
  listStale?(query: StaleQuery): Promise<StaleHeads>;
  /** How many heads `listStale` would find without a limit, and the oldest of them. */
  countStale?(olderThan: string): Promise<StaleCount>;
  /** The definition of a stored workflow version (see `WorkflowVersionStore`). */
  getWorkflowVersion?: WorkflowVersionStore['getWorkflowVersion'];
  /** Stores a workflow version's definition unless stored (see `WorkflowVersionStore`). */
  putWorkflowVersion?: WorkflowVersionStore['putWorkflowVersion'];
}

/**
 * Where the definitions of deployed workflow versions are kept. The DynamoDB and in-memory
 * stores implement it (`SessionStore.getWorkflowVersion` / `putWorkflowVersion`).
 *
 * @example
 * await store.putWorkflowVersion(survey);                    // { version: '…', created: true }
 * await store.getWorkflowVersion('survey', workflowVersion(survey)); // the definition
 */
export interface WorkflowVersionStore {
  /** The definition of that version of that workflow; undefined when it was never stored. */
  getWorkflowVersion(name: string, version: string): Promise<Workflow | undefined>;
  /** Stores a definition under its version unless it is there; `created` says it was not. */
  putWorkflowVersion(workflow: Workflow): Promise<{ version: string; created: boolean }>;
}

/**
 * Where a registry may load a version it does not hold: any store, or nothing.
 *
 * @example
 * const source: WorkflowVersionSource = store; // a SessionStore with getWorkflowVersion
 */
export type WorkflowVersionSource = Partial<Pick<WorkflowVersionStore, 'getWorkflowVersion'>>;

/** What `SessionStore.listStale` looks for. */
export interface StaleQuery {
  /** ISO 8601: heads whose oldest unstarted instance was created before this. */
  olderThan: string;
  /** The most heads to return. */
  limit: number;
}

/** A head with unstarted instances older than the cutoff. */
export interface StaleHead {
  sessionId: string;
  /** The createdAt of its oldest unstarted instance. */
  oldestUnstartedAt: string;
  state: SessionState;
}

/** The answer of `SessionStore.listStale`. */
export interface StaleHeads {
  heads: StaleHead[];
  /** True when more heads are stale than `limit` let through. */
  truncated: boolean;
}

/** The answer of `SessionStore.countStale`. */
export interface StaleCount {
  count: number;
  /** The createdAt of the oldest unstarted instance of them all; absent when none is stale. */
  oldestUnstartedAt?: string;
}

/**
 * Fills in the kwargs of instance records that reference events, with one read of those events.
 *
 * @example
 * const [instance] = await resolveKwargs(store, [await store.getInstance('s1', 't_a#0')]);
 */
export async function resolveKwargs<
  T extends Pick<InstanceRecord, 'sessionId' | 'kwargs' | 'kwargsRefs'>,
>(store: SessionStore, records: readonly T[]): Promise<T[]> {
  const bySession = new Map<string, Set<string>>();
  for (const r of records) {
    if (!r.kwargsRefs) continue;
    const ids = bySession.get(r.sessionId) ?? new Set<string>();
    for (const id of Object.values(r.kwargsRefs)) ids.add(id);
    bySession.set(r.sessionId, ids);
  }
  const events = new Map<string, Map<string, EventRecord>>();
  for (const [sessionId, ids] of bySession) {
    events.set(sessionId, await store.getEvents(sessionId, [...ids]));
  }
  return records.map((r) => {
    if (!r.kwargsRefs) return r;
    const found = events.get(r.sessionId);
    const kwargs: Record<string, Kwargs> = {};
    for (const [trigger, id] of Object.entries(r.kwargsRefs)) {
      const ev = found?.get(id);
      setOwn(kwargs, trigger, ev && ev.kind === 'fire' ? ev.kwargs : {});
    }
    return { ...r, kwargs };
  });
}

/** The public view of an instance record. */
export function toTaskInstance(r: TaskInstance): TaskInstance {
  const out: TaskInstance = {
    name: r.name,
    task: r.task,
    status: r.status,
    kwargs: r.kwargs,
    attempt: r.attempt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  if (r.result !== undefined) out.result = r.result;
  if (r.error !== undefined) out.error = r.error;
  if (r.metadata !== undefined) out.metadata = r.metadata;
  if (r.parent !== undefined) out.parent = r.parent;
  if (r.logLevel !== undefined) out.logLevel = r.logLevel;
  if (r.logsResolved !== undefined) out.logsResolved = r.logsResolved;
  return out;
}
