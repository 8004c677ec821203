/**
 * Watches the writes a runtime's store makes, from the outside: when a session has nothing left in
 * flight, when an instance finished, and how big each transaction's items are.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { SettleTimeoutError } from '../lib/errors.ts';
import type { EventRecord, InstanceRecord, SessionStore } from '../lib/store/port.ts';

/** Attributes the store keeps as JSON text. */
const JSON_ATTRIBUTES = new Set(['kwargs', 'kwargsRefs', 'result', 'error', 'metadata']);

/** A DynamoDB number's stored size: about one byte per two significant digits, plus one. */
function numberBytes(n: number): number {
  const digits = String(Math.abs(n)).replace(/[.-]/g, '').replace(/^0+/, '').length;
  return Math.ceil(Math.max(digits, 1) / 2) + 1;
}

function valueBytes(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number') return numberBytes(v);
  if (typeof v === 'boolean' || v === null) return 1;
  if (Array.isArray(v)) return 3 + v.reduce((n: number, x) => n + 1 + valueBytes(x), 0);
  if (typeof v === 'object') {
    return (
      3 +
      Object.entries(v as Record<string, unknown>).reduce(
        (n, [k, x]) => n + 1 + Buffer.byteLength(k) + valueBytes(x),
        0,
      )
    );
  }
  return 0;
}

/**
 * The size DynamoDB gives an item as the store writes it (attribute names plus values, kwargs and
 * results as JSON text), by AWS's published rules. An estimate: close, not exact.
 */
function itemBytes(
  attributes: Record<string, unknown>,
  sortKey: string,
  sessionId: string,
): number {
  return (
    Buffer.byteLength(`pk${`S#${sessionId}`}sk${sortKey}expiresAt`) +
    numberBytes(2_000_000_000) +
    attributeBytes(attributes)
  );
}

/** The size of some attributes, names included (kwargs and results as JSON text). */
function attributeBytes(attributes: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || k === 'seq') continue;
    n +=
      Buffer.byteLength(k) +
      (JSON_ATTRIBUTES.has(k) ? Buffer.byteLength(JSON.stringify(v)) : valueBytes(v));
  }
  return n;
}

/** Write units by AWS's published formula: 1 per started KB, 2 inside a transaction. */
const writeUnits = (bytes: number, transactional: boolean): number =>
  (transactional ? 2 : 1) * Math.max(1, Math.ceil(bytes / 1024));

/** One write call the store made, with what AWS's published formula would charge for it. */
export interface WriteEstimate {
  /** The store operation, as the capacity meter names it. */
  operation: string;
  /** Items written (more than one only in a transaction). */
  items: number;
  transactional: boolean;
  /** Estimated sizes of the items as written, in bytes. */
  bytes: number[];
  /** Write units by AWS's formula for these sizes. */
  awsWriteUnits: number;
}

interface SessionWork {
  events: Set<string>;
  appliedEarly: Set<string>;
  instances: Set<string>;
  waiters: Array<() => void>;
}

/**
 * Wraps a store's write methods to follow each session's work. A session is quiet when every
 * event it received is applied and every instance it scheduled has an outcome. It wraps the store
 * instance's methods because the runtime keeps calling the same object; nothing here changes what
 * the store does or what it costs.
 *
 * @example
 * const observer = new StoreObserver(runner.store);
 * await fireEvent(deps, { sessionId: 's1', trigger: 'x' });
 * await observer.quiet('s1');
 */
export class StoreObserver {
  private readonly sessions = new Map<string, SessionWork>();
  private readonly eventBytes = new Map<string, number>();
  private readonly instanceBytes = new Map<string, number>();
  /** The size of each session's head as last written, by session. */
  private readonly headBytes = new Map<string, number>();
  private readonly finishWaiters = new Map<string, Array<(at: number) => void>>();
  /** When each instance's outcome was committed (`performance.now()`), by `session/instance`. */
  readonly finishedAt = new Map<string, number>();
  /** Write calls made, with AWS-formula estimates; `takeWrites()` empties it. */
  private writes: WriteEstimate[] = [];

  constructor(store: SessionStore) {
    const putEvent = store.putEvent.bind(store);
    const commitEvaluation = store.commitEvaluation.bind(store);
    const commitOutcome = store.commitOutcome.bind(store);
    const claimInstance = store.claimInstance.bind(store);

    store.putEvent = async (event) => {
      const res = await putEvent(event);
      if (!res.duplicate) this.wrote('putEvent', false, [this.eventStored(event)]);
      return res;
    };
    store.commitEvaluation = async (c) => {
      await commitEvaluation(c);
      const head = itemBytes(
        {
          v: (c.expectedVersion ?? 0) + 1,
          workflow: c.state.workflow,
          state: JSON.stringify(c.state),
          applied: JSON.stringify(c.mark),
        },
        'HEAD',
        c.sessionId,
      );
      // A write is charged on the larger of the item before and after it: a head that carried a
      // big batch's owed sends costs its next write that size.
      const bytes: number[] = [Math.max(head, this.headBytes.get(c.sessionId) ?? 0)];
      this.headBytes.set(c.sessionId, head);
      for (const r of c.created) bytes.push(this.instanceStored(r));
      for (const u of c.updated) {
        const key = `${u.sessionId}/${u.name}`;
        bytes.push((this.instanceBytes.get(key) ?? 0) + attributeBytes(u.set));
      }
      for (const e of c.events) bytes.push(this.eventStored(e));
      // The head alone is one conditional write; anything more is a transaction.
      this.wrote('commitEvaluation', bytes.length > 1, bytes);
      for (const r of c.created) {
        if (r.status === 'scheduled') this.work(c.sessionId).instances.add(r.name);
      }
      for (const id of c.applied) this.applied(c.sessionId, id);
      this.check(c.sessionId);
    };
    store.commitOutcome = async (c) => {
      const committed = await commitOutcome(c);
      if (!committed) return committed;
      const { sessionId, name } = c.update;
      const instance =
        (this.instanceBytes.get(`${sessionId}/${name}`) ?? 0) + attributeBytes(c.update.set);
      this.wrote('commitOutcome', c.events.length > 0, [
        instance,
        ...c.events.map((e) => this.eventStored(e)),
      ]);
      const status = c.update.set.status;
      if (status !== 'running' && status !== 'scheduled') {
        const key = `${sessionId}/${name}`;
        const at = performance.now();
        this.finishedAt.set(key, at);
        for (const w of this.finishWaiters.get(key) ?? []) w(at);
        this.finishWaiters.delete(key);
        this.work(sessionId).instances.delete(name);
      }
      this.check(sessionId);
      return committed;
    };
    store.claimInstance = async (sessionId, name, now, leaseUntil) => {
      const claimed = await claimInstance(sessionId, name, now, leaseUntil);
      if (claimed) {
        const base = this.instanceBytes.get(`${sessionId}/${name}`) ?? 0;
        this.wrote('claimInstance', false, [base + attributeBytes({ leaseUntil })]);
      }
      return claimed;
    };
  }

  private wrote(operation: string, transactional: boolean, bytes: number[]): void {
    this.writes.push({
      operation,
      items: bytes.length,
      transactional,
      bytes,
      awsWriteUnits: bytes.reduce((n, b) => n + writeUnits(b, transactional), 0),
    });
  }

  private work(sessionId: string): SessionWork {
    let w = this.sessions.get(sessionId);
    if (!w) {
      w = { events: new Set(), appliedEarly: new Set(), instances: new Set(), waiters: [] };
      this.sessions.set(sessionId, w);
    }
    return w;
  }

  private eventStored(e: EventRecord): number {
    const bytes = itemBytes({ ...e }, `EVT#${e.eventId}`, e.sessionId);
    this.eventBytes.set(`${e.sessionId}/${e.eventId}`, bytes);
    const w = this.work(e.sessionId);
    // The evaluator can in principle apply an event before its writer's promise resolves here.
    if (w.appliedEarly.delete(e.eventId)) return bytes;
    w.events.add(e.eventId);
    return bytes;
  }

  private instanceStored(r: InstanceRecord): number {
    const bytes = itemBytes({ ...r }, `INST#${r.name}`, r.sessionId);
    this.instanceBytes.set(`${r.sessionId}/${r.name}`, bytes);
    return bytes;
  }

  private applied(sessionId: string, eventId: string): void {
    const w = this.work(sessionId);
    if (!w.events.delete(eventId)) w.appliedEarly.add(eventId);
  }

  private check(sessionId: string): void {
    const w = this.sessions.get(sessionId);
    if (!w || w.events.size > 0 || w.instances.size > 0) return;
    for (const resolve of w.waiters.splice(0)) resolve();
  }

  /** True when the session has no unapplied event and no instance without an outcome. */
  isQuiet(sessionId: string): boolean {
    const w = this.sessions.get(sessionId);
    return !w || (w.events.size === 0 && w.instances.size === 0);
  }

  /**
   * Resolves once the session is quiet: every event applied (cascades included), every
   * scheduled instance finished. Rejects after `timeoutMs`.
   */
  quiet(sessionId: string, timeoutMs = 120_000): Promise<void> {
    if (this.isQuiet(sessionId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new SettleTimeoutError(`session '${sessionId}' still had work after ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      this.work(sessionId).waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves with the time (`performance.now()`) the instance's outcome was committed. */
  finished(sessionId: string, instance: string, timeoutMs = 120_000): Promise<number> {
    const key = `${sessionId}/${instance}`;
    const at = this.finishedAt.get(key);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new SettleTimeoutError(`instance '${key}' did not finish within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const list = this.finishWaiters.get(key) ?? [];
      list.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.finishWaiters.set(key, list);
    });
  }

  /** The write calls made since the last call, with their AWS-formula estimates. */
  takeWrites(): WriteEstimate[] {
    return this.writes.splice(0);
  }
}
