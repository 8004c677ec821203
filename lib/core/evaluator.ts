/**
 * The evaluator's flow: applies a session's new events, in stream order, with the engine and
 * commits the head, the new and changed instances and the cascade events atomically.
 * May import: base, engine, store, core.
 *
 * @module
 */
import {
  cascadeEventId,
  type Effect,
  type InstanceSeed,
  type SessionEvent,
  statusCascadeEventId,
} from '../engine/events.ts';
import { cascadeSource } from '../engine/finalize.ts';
import type { SessionEngine } from '../engine/index.ts';
import { instanceName } from '../engine/names.ts';
import { configureTasks } from '../engine/workflow.ts';
import { ConflictError, TriggersError } from '../errors.ts';
import {
  type AppliedMark,
  type DeliveredEvent,
  type EventRecord,
  type InstanceRecord,
  type InstanceUpdate,
  isApplied,
  type LifecycleNote,
  type OwedRun,
  type SessionStore,
  samePosition,
} from '../store/port.ts';
import type { InstanceStatus, Kwargs, Workflow } from '../types.ts';
import type { Clock } from './clock.ts';
import type { FaultHook } from './faults.ts';
import type { LogSink } from './log.ts';
import type { WorkflowRegistry } from './registry.ts';
import type { SendTask } from './task-message.ts';

/** What the evaluator needs. */
export interface EvaluatorDeps {
  store: SessionStore;
  registry: WorkflowRegistry;
  clock: Clock;
  log: LogSink;
  /** How often a commit that lost a race is re-read and retried. @default 20 */
  maxAttempts?: number;
  /**
   * Sends each instance an evaluation scheduled to its queue right after the commit (direct
   * dispatch: the ready task is one queue hop away). Without it a dispatcher on the table's
   * stream sends them. @default - none: stream dispatch
   */
  send?: SendTask;
  /**
   * Note what each evaluation did in the head it commits (`LifecycleNote`), for the lifecycle
   * publisher on the stream: on when lifecycle events (or test hooks) are. @default false
   */
  lifecycle?: boolean;
  /** Test-only crash points. */
  faults?: FaultHook;
}

/** The engine event an event record stands for; replay and skip carry what was observed. */
function toSessionEvent(
  // A configuration is applied by the evaluator itself (see `configuredVersion`).
  record: Exclude<EventRecord, { kind: 'configure' }>,
  observed: InstanceRecord | undefined,
  statusNow: InstanceStatus | undefined,
): SessionEvent {
  const at = record.firedAt;
  switch (record.kind) {
    case 'fire':
      return { type: 'fire', eventId: record.eventId, trigger: record.trigger, at };
    case 'clone':
      return {
        type: 'clone',
        eventId: record.eventId,
        parent: record.parent,
        task: record.task,
        parentAttempt: record.parentAttempt,
        ...(record.kwargs !== undefined ? { kwargs: record.kwargs } : {}),
        ...(record.delaySeconds !== undefined ? { delaySeconds: record.delaySeconds } : {}),
        at,
      };
    case 'replay':
      return {
        type: 'replay',
        eventId: record.eventId,
        instance: record.instance,
        ...(observed && statusNow
          ? { observed: { status: statusNow, task: observed.task, attempt: observed.attempt } }
          : {}),
        ...(record.kwargs !== undefined ? { kwargs: record.kwargs } : {}),
        at,
      };
    case 'resolved':
      return { type: 'resolved', eventId: record.eventId, instance: record.instance, at };
    case 'skip':
      return {
        type: 'skip',
        eventId: record.eventId,
        instance: record.instance,
        ...(observed && statusNow ? { observed: { status: statusNow, task: observed.task } } : {}),
        cascade: record.cascade,
        ...(record.result !== undefined ? { result: record.result } : {}),
        at,
      };
    case 'metadata':
    case 'resolve-logs':
    case 'status': {
      const seen =
        observed && statusNow
          ? {
              observed: {
                status: statusNow,
                task: observed.task,
                ...(observed.metadata !== undefined ? { metadata: observed.metadata } : {}),
              },
            }
          : {};
      const base = { eventId: record.eventId, instance: record.instance, ...seen, at };
      if (record.kind === 'metadata')
        return { type: 'metadata', ...base, metadata: record.metadata };
      if (record.kind === 'resolve-logs') return { type: 'resolve-logs', ...base };
      return {
        type: 'status',
        ...base,
        status: record.status,
        ...(record.metadata !== undefined ? { metadata: record.metadata } : {}),
        cascade: record.cascade,
        ...(record.cascadeKwargs !== undefined ? { cascadeKwargs: record.cascadeKwargs } : {}),
      };
    }
  }
}

/** The instance an event acts on, for the events that act on one. */
function targetOf(record: EventRecord): string | undefined {
  switch (record.kind) {
    case 'replay':
    case 'skip':
    case 'metadata':
    case 'resolve-logs':
    case 'status':
      return record.instance;
    default:
      return undefined;
  }
}

/** What one evaluation pass did, and what it leaves to do. */
interface Pass {
  /** Events still to apply. */
  rest: DeliveredEvent[];
  committed: boolean;
  /** Messages to send: what this pass's commit scheduled, or what an earlier one still owes. */
  sends: OwedRun[];
}

/**
 * One evaluation pass: reads the head, drops the events it says are applied, runs the engine
 * over as many of the rest as fit in one commit, then commits that atomically. Returns the
 * events still to apply, whether it committed (nothing, when all were applied already), and the
 * messages to send: its commit's, and on the first pass those an earlier commit still owes.
 */
async function evaluateOnce(
  deps: EvaluatorDeps,
  sessionId: string,
  delivered: readonly DeliveredEvent[],
  first: boolean,
): Promise<Pass> {
  const { store, registry } = deps;
  const head = await store.getHead(sessionId);
  // The marked event is in this delivery: the commit that applied it may have been made by a
  // run of this batch that died before its sends (the stream re-delivers an unacknowledged
  // batch from its start), so what that commit owes is sent again. Duplicates are harmless:
  // the task runner's claim lets one delivery run the instance.
  const owed =
    first &&
    deps.send &&
    head?.applied?.sends &&
    delivered.some((e) => samePosition(e.position, head.applied as AppliedMark))
      ? head.applied.sends
      : [];
  const candidates = delivered.filter((e) => !isApplied(head, e.position));
  const firstEvent = candidates[0];
  if (firstEvent === undefined) return { rest: [], committed: false, sends: owed };
  const pending: DeliveredEvent[] = [];
  const workflowName =
    head?.state.workflow ??
    (firstEvent.workflow !== undefined && registry.has(firstEvent.workflow)
      ? firstEvent.workflow
      : registry.defaultWorkflow);
  // A session runs under the workflow version it was created with; a new one is pinned to the
  // current version (the registry's engines start their sessions pinned).
  const engine: SessionEngine = await registry.engineFor(workflowName, head?.state.version, store);
  let state = head?.state ?? engine.initialState();
  const at = deps.clock.now().toISOString();

  const created: InstanceRecord[] = [];
  const updated: InstanceUpdate[] = [];
  const events: EventRecord[] = [];
  // Instances read or written in this pass, so a later event sees an earlier one's change.
  const known = new Map<string, InstanceRecord>();
  const statusNow = new Map<string, InstanceStatus>();
  const readInstance = async (name: string): Promise<InstanceRecord | undefined> => {
    if (!known.has(name)) {
      const r = await store.getInstance(sessionId, name);
      if (r) known.set(name, r);
    }
    return known.get(name);
  };

  const seeds: Array<{ seed: InstanceSeed; status: InstanceStatus; delaySeconds: number }> = [];
  const budget = store.maxCommitItems - 1; // the head
  let items = 0;
  const notes: LifecycleNote[] = [];
  // Instances this pass changes: one transaction may touch an item once, so a second change
  // to one of them waits for the next pass (which reads the first's result).
  const changing = new Set<string>();
  for (const record of candidates) {
    const name = targetOf(record);
    if (name !== undefined && changing.has(name)) break;
    if (record.kind === 'configure') {
      // A configuration is applied alone: the events after it run under the new version, so
      // the next pass reads them with its engine.
      if (pending.length > 0) break;
      const version = await configuredVersion(deps, engine, record, sessionId, at);
      if (version !== undefined) {
        state = engine.apply(state, {
          type: 'configure',
          eventId: record.eventId,
          version,
          at: record.firedAt,
        }).state;
      }
      pending.push(record);
      break;
    }
    const observed = name !== undefined ? await readInstance(name) : undefined;
    const current = name !== undefined ? (statusNow.get(name) ?? observed?.status) : undefined;
    const result = engine.apply(state, toSessionEvent(record, observed, current));
    const cost = result.effects.filter((e) => e.type !== 'create' && e.type !== 'reject').length;
    if (items + cost > budget) {
      if (pending.length > 0) break;
      throw new TriggersError(
        `event '${record.eventId}' of session '${sessionId}' changes ${cost} items, more than one commit can hold (${budget})`,
        { code: 'EVENT_TOO_LARGE' },
      );
    }
    items += cost;
    pending.push(record);
    state = result.state;
    for (const effect of result.effects) {
      if (effect.type === 'record') changing.add(effect.instance);
      collectEffect(effect, { seeds, updated, events, statusNow, sessionId, at, deps });
    }
    if (deps.lifecycle) {
      // A skip's cascade: the skip is noted after the cascade's fire, as the original calls
      // its post-skip hook after the cascade's post-fire.
      const skipped =
        record.kind === 'fire' && record.skip ? cascadeSource(record.eventId) : undefined;
      notes.push(...noteEvent(record, result.effects, skipped));
    }
  }

  const wf = engine.workflow;
  for (const { seed, status, delaySeconds } of seeds) {
    const task = wf.allTasks.get(seed.task);
    if (!task) continue;
    // Kwargs stay in their events: the instance keeps references (or, for replacement kwargs,
    // the kwargs themselves), so nothing is read here.
    let kwargs: Record<string, Kwargs> = {};
    let kwargsRefs: Record<string, string> | undefined;
    if ('refs' in seed.kwargs) {
      kwargsRefs = seed.kwargs.refs;
    } else if ('inherit' in seed.kwargs) {
      const parentName = seed.kwargs.inherit;
      const parent = created.find((c) => c.name === parentName) ?? (await readInstance(parentName));
      kwargsRefs = parent?.kwargsRefs;
      kwargs = parent?.kwargsRefs ? {} : (parent?.kwargs ?? {});
    } else {
      kwargs = seed.kwargs.literal;
    }
    const instance: InstanceRecord = {
      sessionId,
      workflow: wf.name,
      ...(state.version !== undefined ? { workflowVersion: state.version } : {}),
      name: seed.name,
      task: seed.task,
      status,
      kwargs,
      ...(kwargsRefs ? { kwargsRefs } : {}),
      attempt: seed.attempt,
      handler: task.run,
      queue: task.using ?? task.run,
      createdAt: seed.createdAt,
      updatedAt: at,
    };
    if (seed.parent !== undefined) instance.parent = seed.parent;
    if (seed.metadata !== undefined) instance.metadata = seed.metadata;
    if (delaySeconds > 0) instance.delaySeconds = delaySeconds;
    created.push(instance);
  }

  // The head records what is applied (the position of the last event), so applying events
  // that change nothing else, a trigger nothing listens to say, is one write of the head.
  const last = pending[pending.length - 1] as DeliveredEvent;
  const sends = deps.send ? owedRuns(created) : [];
  await store.commitEvaluation({
    sessionId,
    expectedVersion: head?.version,
    state,
    applied: pending.map((e) => e.eventId),
    mark: {
      ...last.position,
      count: (head?.applied?.count ?? 0) + pending.length,
      at,
      ...(sends.length > 0 ? { sends } : {}),
    },
    created,
    updated,
    events,
    ...(notes.length > 0 ? { notes } : {}),
    at,
  });
  return { rest: candidates.slice(pending.length), committed: true, sends: [...owed, ...sends] };
}

/**
 * A configuration's workflow version: its tasks merged by name into the definition the session
 * runs under, validated and stored. Undefined (and logged) when the merge is not a valid
 * workflow: ingest checked it against the session as it read it, but a configuration applied
 * before this one may have changed what it merges into.
 */
async function configuredVersion(
  deps: EvaluatorDeps,
  engine: SessionEngine,
  record: Extract<EventRecord, { kind: 'configure' }>,
  sessionId: string,
  at: string,
): Promise<string | undefined> {
  let merged: Workflow;
  try {
    merged = configureTasks(engine.workflow.definition, record.tasks);
  } catch (err) {
    deps.log({
      level: 'warn',
      message: `configuration refused: ${err instanceof Error ? err.message : String(err)}`,
      timestamp: at,
      sessionId,
      eventId: record.eventId,
      code: 'WORKFLOW_INVALID',
    });
    return undefined;
  }
  if (!deps.store.putWorkflowVersion) {
    throw new TriggersError(
      'this store keeps no workflow versions: sessions cannot be configured',
      {
        code: 'NOT_AVAILABLE',
      },
    );
  }
  return (await deps.store.putWorkflowVersion(merged)).version;
}

/**
 * What the lifecycle publisher hears of an applied event (see `LifecycleNote`): a fire and what
 * it scheduled; a replay and its clone; a skip, after its cascade's fire when it cascades (the
 * skip is noted when that cascade is applied); a finalize trigger's fire.
 */
function noteEvent(
  record: EventRecord,
  effects: readonly Effect[],
  skipped: string | undefined,
): LifecycleNote[] {
  if (effects.some((e) => e.type === 'reject')) return [];
  const scheduled = effects.flatMap((e) => (e.type === 'schedule' ? [e.instance.name] : []));
  const cascaded = effects.some((e) => e.type === 'cascade');
  const task = effects.find((e) => e.type === 'record')?.task;
  switch (record.kind) {
    case 'fire': {
      const notes: LifecycleNote[] = [
        { t: 'fired', eventId: record.eventId, trigger: record.trigger, scheduled },
      ];
      if (skipped !== undefined) {
        notes.push({ t: 'skipped', eventId: record.eventId, instance: skipped, cascade: true });
      }
      if (record.source === 'finalize') notes.push({ t: 'finalized' });
      return notes;
    }
    case 'replay': {
      const clone = scheduled[0];
      return clone === undefined
        ? []
        : [{ t: 'replayed', eventId: record.eventId, instance: clone, parent: record.instance }];
    }
    case 'skip': {
      if (record.cascade && cascaded) return [];
      const skipped: LifecycleNote = {
        t: 'skipped',
        eventId: record.eventId,
        instance: record.instance,
        cascade: record.cascade,
      };
      // A cascade nothing listens to writes no event: its fire is noted here, as it happens.
      return record.cascade && task !== undefined
        ? [
            {
              t: 'fired',
              eventId: cascadeEventId(record.instance),
              trigger: task,
              scheduled: [],
            },
            skipped,
          ]
        : [skipped];
    }
    case 'status':
      return record.cascade && record.status === 'finished' && !cascaded && task !== undefined
        ? [
            {
              t: 'fired',
              eventId: statusCascadeEventId(record.instance, record.eventId),
              trigger: task,
              scheduled: [],
            },
          ]
        : [];
    default:
      return [];
  }
}

interface Collector {
  seeds: Array<{ seed: InstanceSeed; status: InstanceStatus; delaySeconds: number }>;
  updated: InstanceUpdate[];
  events: EventRecord[];
  statusNow: Map<string, InstanceStatus>;
  sessionId: string;
  at: string;
  deps: EvaluatorDeps;
}

function collectEffect(effect: Effect, c: Collector): void {
  switch (effect.type) {
    case 'create':
      return;
    case 'schedule':
      c.seeds.push({
        seed: effect.instance,
        status: 'scheduled',
        delaySeconds: effect.delaySeconds,
      });
      return;
    case 'abandon':
      c.seeds.push({ seed: effect.instance, status: 'abandoned', delaySeconds: 0 });
      return;
    case 'record':
      c.statusNow.set(effect.instance, effect.status);
      c.updated.push(recordToUpdate(c.sessionId, effect));
      return;
    case 'cascade':
      c.events.push(cascadeEventRecord(c.sessionId, effect, c.at));
      return;
    case 'notice':
      c.events.push(resolvedEventRecord(c.sessionId, effect, c.at));
      return;
    case 'retry':
      c.events.push(cloneEventRecord(c.sessionId, effect.event));
      return;
    case 'reject':
      c.deps.log({
        level: 'warn',
        message: `request refused: ${effect.message}`,
        timestamp: c.at,
        sessionId: c.sessionId,
        eventId: effect.eventId,
        code: effect.code,
      });
      return;
  }
}

/** The instance update a `record` effect stands for. */
export function recordToUpdate(
  sessionId: string,
  effect: Extract<Effect, { type: 'record' }>,
): InstanceUpdate {
  const set: InstanceUpdate['set'] = { status: effect.status, updatedAt: effect.at };
  if (effect.result !== undefined) set.result = effect.result;
  if (effect.error !== undefined) set.error = effect.error;
  if (effect.metadata !== undefined) set.metadata = effect.metadata;
  if (effect.logLevel !== undefined) set.logLevel = effect.logLevel;
  if (effect.logsResolved !== undefined) set.logsResolved = effect.logsResolved;
  return {
    sessionId,
    name: effect.instance,
    expect: effect.expect,
    set,
    ...(effect.keepLease ? { keepLease: true } : {}),
  };
}

/** The stored form of a cascade: the task name (or the finalize trigger) fired with its kwargs. */
export function cascadeEventRecord(
  sessionId: string,
  effect: Extract<Effect, { type: 'cascade' }>,
  at: string,
): EventRecord {
  return {
    sessionId,
    eventId: effect.eventId,
    kind: 'fire',
    trigger: effect.trigger,
    kwargs: effect.kwargs,
    ...(effect.skip ? { skip: true as const } : {}),
    source: effect.source ?? 'cascade',
    firedAt: at,
  };
}

/** The stored form of a notice that an instance was resolved without a cascade. */
export function resolvedEventRecord(
  sessionId: string,
  effect: Extract<Effect, { type: 'notice' }>,
  at: string,
): EventRecord {
  return {
    sessionId,
    eventId: effect.eventId,
    kind: 'resolved',
    instance: effect.instance,
    source: 'runner',
    firedAt: at,
  };
}

/** The stored form of a clone request. */
export function cloneEventRecord(
  sessionId: string,
  e: Extract<Effect, { type: 'retry' }>['event'],
): EventRecord {
  return {
    sessionId,
    eventId: e.eventId,
    kind: 'clone',
    parent: e.parent,
    task: e.task,
    parentAttempt: e.parentAttempt,
    ...(e.kwargs !== undefined ? { kwargs: e.kwargs } : {}),
    ...(e.delaySeconds !== undefined ? { delaySeconds: e.delaySeconds } : {}),
    source: 'retry',
    firedAt: e.at,
  };
}

/**
 * Applies a session's events, given in stream order (the order the store accepted them), and
 * commits the new head (with the position of the last applied event), new and changed
 * instances and cascade events atomically, in as few commits as the store's transaction size
 * allows. Events at or before the head's position are already applied and are dropped: a
 * re-delivered event is never applied twice. A commit that lost a race is re-read and retried.
 *
 * A session's events must come in stream order, each delivery a run of them that may start
 * again at any earlier point (as Lambda's stream sources deliver: in order per partition key,
 * retried from the failed record). That order is also what makes evaluation deterministic.
 *
 * @example
 * await evaluateSession(deps, 's1', eventsFromTheStream);
 */
export async function evaluateSession(
  deps: EvaluatorDeps,
  sessionId: string,
  events: readonly DeliveredEvent[],
): Promise<void> {
  const maxAttempts = deps.maxAttempts ?? 20;
  let remaining = events.filter((e) => e.sessionId === sessionId);
  let conflicts = 0;
  let first = true;
  while (remaining.length > 0) {
    let pass: Pass;
    try {
      pass = await evaluateOnce(deps, sessionId, remaining, first);
    } catch (err) {
      if (!(err instanceof ConflictError) || ++conflicts >= maxAttempts) throw err;
      continue;
    }
    first = false;
    remaining = pass.rest;
    if (pass.committed) deps.faults?.('evaluator.afterCommit', { sessionId });
    if (deps.send && pass.sends.length > 0) {
      await sendOwed(deps, deps.send, sessionId, pass.sends);
      deps.faults?.('evaluator.afterSend', { sessionId });
    }
  }
}

/**
 * The runs of the instances a commit scheduled (see `OwedRun`): consecutive numbers of one task
 * with the same queue and delay, in the order they were created.
 *
 * @example
 * owedRuns(created); // [['t_page', 11, 110, 'importPage', 0]]
 */
export function owedRuns(created: readonly InstanceRecord[]): OwedRun[] {
  const runs: OwedRun[] = [];
  for (const c of created) {
    if (c.status !== 'scheduled') continue;
    const n = Number(c.name.slice(c.task.length + 1));
    const delay = c.delaySeconds ?? 0;
    const last = runs[runs.length - 1];
    if (
      last &&
      last[0] === c.task &&
      last[2] + 1 === n &&
      last[3] === c.queue &&
      last[4] === delay
    ) {
      last[2] = n;
    } else {
      runs.push([c.task, n, n, c.queue, delay]);
    }
  }
  return runs;
}

/**
 * Sends what a commit owes, in order. A send that fails fails the evaluation: the stream
 * re-delivers the batch and the sends are made again (see `evaluateOnce`).
 */
async function sendOwed(
  deps: EvaluatorDeps,
  send: SendTask,
  sessionId: string,
  runs: readonly OwedRun[],
): Promise<void> {
  for (const [task, first, last, queue, delaySeconds] of runs) {
    for (let n = first; n <= last; n++) {
      const instance = instanceName(task, n);
      deps.faults?.('dispatcher.beforeSend', { sessionId, instance });
      await send(queue, { sessionId, instance }, delaySeconds);
    }
  }
}
