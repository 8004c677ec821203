/**
 * The in-memory store: the storage port over plain maps (per session its head, events by id and
 * instances by name; workflow definitions by name and version), with a change stream.
 * May import: engine, base (lib/types.ts, lib/errors.ts), store.
 *
 * @module
 */
import { ConflictError } from '../errors.ts';
import type { InstanceStatus, Workflow } from '../types.ts';
import { MAX_TRANSACTION_ITEMS } from './layout.ts';
import {
  type DeliveredEvent,
  type EvaluationCommit,
  type EventRecord,
  type HeadRecord,
  type InstanceRecord,
  type InstanceUpdate,
  isApplied,
  type LifecycleNote,
  type OutcomeCommit,
  type SessionStore,
  type StaleCount,
  type StaleHead,
  type StaleHeads,
  type StaleQuery,
  type StreamPosition,
} from './port.ts';
import { compareStale, oldestUnstartedAt } from './stale-heads.ts';
import { canonicalJson, workflowVersion } from './workflow-version.ts';

/** A change the store made, as its stream reports it. */
export type ChangeRecord =
  | { kind: 'event'; sessionId: string; eventId: string }
  /** A head written with lifecycle notes (see `EvaluationCommit.notes`). */
  | { kind: 'head'; sessionId: string; workflow: string; notes: LifecycleNote[] }
  | {
      kind: 'instance';
      sessionId: string;
      oldStatus: InstanceStatus | undefined;
      record: InstanceRecord;
    };

interface SessionData {
  head?: HeadRecord;
  /** By event id, each with its accept number (`seq`). */
  events: Map<string, EventRecord>;
  /** The accept number of the last accepted event. */
  seq: number;
  /** By instance name. */
  instances: Map<string, InstanceRecord>;
}

const copy = <T>(value: T): T => structuredClone(value);

/** The identity of every in-memory store's change stream. */
export const MEMORY_STREAM = 'memory';

/**
 * An event's position in the in-memory change stream: its accept number.
 *
 * @example
 * memoryPosition(3); // { stream: 'memory', sequence: '3' }
 */
export function memoryPosition(seq: number): StreamPosition {
  return { stream: MEMORY_STREAM, sequence: String(seq) };
}

/**
 * An in-memory `SessionStore` with the guarantees of the DynamoDB one: conditional puts,
 * all-or-nothing commits guarded by the head version, one accept order per session, and a
 * change stream. Records are copied in and out, as serialization would.
 *
 * @example
 * const store = new MemoryStore();
 * store.subscribe((change) => console.log(change.kind, change.sessionId));
 */
export class MemoryStore implements SessionStore {
  /** The DynamoDB store's limit, so that a commit that fits here fits there. */
  readonly maxCommitItems = MAX_TRANSACTION_ITEMS;
  private readonly sessions = new Map<string, SessionData>();
  /** Workflow definitions as canonical JSON, by workflow name, then version. */
  private readonly workflowVersions = new Map<string, Map<string, string>>();
  private readonly listeners: Array<(change: ChangeRecord) => void> = [];

  /** Registers a listener for every change, in commit order. */
  subscribe(listener: (change: ChangeRecord) => void): void {
    this.listeners.push(listener);
  }

  private emit(changes: ChangeRecord[]): void {
    for (const change of changes) for (const l of this.listeners) l(change);
  }

  private session(sessionId: string): SessionData {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { events: new Map(), seq: 0, instances: new Map() };
      this.sessions.set(sessionId, s);
    }
    return s;
  }

  async putEvent(event: EventRecord): Promise<{ duplicate: boolean }> {
    const s = this.session(event.sessionId);
    if (s.events.has(event.eventId)) return { duplicate: true };
    s.seq += 1;
    s.events.set(event.eventId, { ...copy(event), seq: s.seq });
    this.emit([{ kind: 'event', sessionId: event.sessionId, eventId: event.eventId }]);
    return { duplicate: false };
  }

  async getEvents(
    sessionId: string,
    eventIds: readonly string[],
  ): Promise<Map<string, EventRecord>> {
    const s = this.sessions.get(sessionId);
    const out = new Map<string, EventRecord>();
    for (const id of eventIds) {
      const e = s?.events.get(id);
      if (e) out.set(id, copy(e));
    }
    return out;
  }

  async listEvents(sessionId: string): Promise<EventRecord[]> {
    const s = this.sessions.get(sessionId);
    if (!s) return [];
    return [...s.events.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)).map(copy);
  }

  /**
   * The session's events not applied yet, in accept order, each with its position in this
   * store's change stream: what a stream would deliver to the evaluator.
   */
  async pendingEvents(sessionId: string): Promise<DeliveredEvent[]> {
    const s = this.sessions.get(sessionId);
    if (!s) return [];
    return [...s.events.values()]
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
      .map((e) => ({ ...copy(e), position: memoryPosition(e.seq ?? 0) }))
      .filter((e) => !isApplied(s.head, e.position));
  }

  async getHead(sessionId: string): Promise<HeadRecord | undefined> {
    const head = this.sessions.get(sessionId)?.head;
    return head ? copy(head) : undefined;
  }

  async commitEvaluation(c: EvaluationCommit): Promise<void> {
    const s = this.session(c.sessionId);
    if (s.head?.version !== c.expectedVersion) {
      throw new ConflictError(`session '${c.sessionId}' head moved on`);
    }
    for (const r of c.created) {
      if (s.instances.has(r.name)) throw new ConflictError(`instance '${r.name}' already exists`);
    }
    for (const u of c.updated) this.checkUpdate(s, u);
    for (const e of c.events) {
      if (s.events.has(e.eventId)) throw new ConflictError(`event '${e.eventId}' already exists`);
    }

    const changes: ChangeRecord[] = [];
    if (c.notes !== undefined && c.notes.length > 0) {
      changes.push({
        kind: 'head',
        sessionId: c.sessionId,
        workflow: c.state.workflow,
        notes: copy(c.notes),
      });
    }
    s.head = {
      sessionId: c.sessionId,
      state: copy(c.state),
      version: (c.expectedVersion ?? 0) + 1,
      applied: copy(c.mark),
    };
    for (const r of c.created) {
      s.instances.set(r.name, copy(r));
      changes.push({
        kind: 'instance',
        sessionId: c.sessionId,
        oldStatus: undefined,
        record: copy(r),
      });
    }
    for (const u of c.updated) changes.push(this.applyUpdate(s, u));
    for (const e of c.events) changes.push(this.insertEvent(s, e));
    this.emit(changes);
  }

  private checkUpdate(s: SessionData, u: InstanceUpdate): InstanceRecord {
    const r = s.instances.get(u.name);
    if (!r || !u.expect.includes(r.status)) {
      throw new ConflictError(`instance '${u.name}' is not ${u.expect.join(' or ')}`);
    }
    return r;
  }

  private applyUpdate(s: SessionData, u: InstanceUpdate): ChangeRecord {
    const r = s.instances.get(u.name) as InstanceRecord;
    const oldStatus = r.status;
    Object.assign(r, copy(u.set));
    if (!u.keepLease) delete r.leaseUntil;
    return { kind: 'instance', sessionId: u.sessionId, oldStatus, record: copy(r) };
  }

  private insertEvent(s: SessionData, e: EventRecord): ChangeRecord {
    s.seq += 1;
    s.events.set(e.eventId, { ...copy(e), seq: s.seq });
    return { kind: 'event', sessionId: e.sessionId, eventId: e.eventId };
  }

  async getInstance(sessionId: string, name: string): Promise<InstanceRecord | undefined> {
    const r = this.sessions.get(sessionId)?.instances.get(name);
    return r ? copy(r) : undefined;
  }

  async listInstances(sessionId: string): Promise<InstanceRecord[]> {
    return [...(this.sessions.get(sessionId)?.instances.values() ?? [])].map(copy);
  }

  async claimInstance(
    sessionId: string,
    name: string,
    now: string,
    leaseUntil: string,
  ): Promise<InstanceRecord | undefined> {
    const r = this.sessions.get(sessionId)?.instances.get(name);
    if (!r) return undefined;
    const lapsed = r.status === 'running' && r.leaseUntil !== undefined && r.leaseUntil < now;
    if (r.status !== 'scheduled' && !lapsed) return undefined;
    const oldStatus = r.status;
    r.status = 'running';
    r.leaseUntil = leaseUntil;
    r.updatedAt = now;
    this.emit([{ kind: 'instance', sessionId, oldStatus, record: copy(r) }]);
    return copy(r);
  }

  async getWorkflowVersion(name: string, version: string): Promise<Workflow | undefined> {
    const definition = this.workflowVersions.get(name)?.get(version);
    return definition === undefined ? undefined : (JSON.parse(definition) as Workflow);
  }

  /** Stores a version's definition unless stored; no change record (no stream source reads it). */
  async putWorkflowVersion(workflow: Workflow): Promise<{ version: string; created: boolean }> {
    const version = workflowVersion(workflow);
    let versions = this.workflowVersions.get(workflow.name);
    if (versions === undefined) {
      versions = new Map();
      this.workflowVersions.set(workflow.name, versions);
    }
    if (versions.has(version)) return { version, created: false };
    versions.set(version, canonicalJson(workflow));
    return { version, created: true };
  }

  async commitOutcome(c: OutcomeCommit): Promise<boolean> {
    const s = this.sessions.get(c.update.sessionId);
    const r = s?.instances.get(c.update.name);
    if (!s || !r || !c.update.expect.includes(r.status)) return false;
    if (c.leaseUntil !== undefined && r.leaseUntil !== c.leaseUntil) return false;
    if (c.events.some((e) => s.events.has(e.eventId))) return false;
    const changes = [this.applyUpdate(s, c.update), ...c.events.map((e) => this.insertEvent(s, e))];
    this.emit(changes);
    return true;
  }

  /** Every head whose oldest unstarted instance is older than `olderThan`, oldest first. */
  private staleHeads(olderThan: string): StaleHead[] {
    const out: StaleHead[] = [];
    for (const [sessionId, s] of this.sessions) {
      const oldest = s.head && oldestUnstartedAt(s.head.state);
      if (s.head && oldest !== undefined && oldest < olderThan) {
        out.push({ sessionId, oldestUnstartedAt: oldest, state: copy(s.head.state) });
      }
    }
    return out.sort(compareStale);
  }

  async listStale(query: StaleQuery): Promise<StaleHeads> {
    const all = this.staleHeads(query.olderThan);
    return { heads: all.slice(0, query.limit), truncated: all.length > query.limit };
  }

  async countStale(olderThan: string): Promise<StaleCount> {
    const all = this.staleHeads(olderThan);
    const oldest = all[0]?.oldestUnstartedAt;
    return { count: all.length, ...(oldest !== undefined ? { oldestUnstartedAt: oldest } : {}) };
  }
}
