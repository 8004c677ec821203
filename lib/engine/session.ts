import { notFailedMessage } from '../errors.ts';
import type { InstanceError, InstanceStatus, Kwargs, LogLevel } from '../types.ts';
import { getOwn, isPlainObject, setOwn } from './kwargs.ts';
import { instanceName, parseInstanceName } from './names.ts';
import type { CompiledTask, CompiledTimer, CompiledWorkflow } from './workflow.ts';

/**
 * An instance still waiting for triggers. Kwargs are references: trigger → id of the event
 * whose kwargs the instance applied; the event records hold the kwargs themselves.
 */
export interface UnstartedInstance {
  /** Its number: the instance is `<task>#<n>`. */
  n: number;
  kwargs: Record<string, string>;
  /** The `unless` triggers already applied. */
  abandon: string[];
  createdAt: string;
}

/**
 * The compact, JSON-serializable state of one session: what decisions need and nothing more.
 * Resolved instances leave it; kwargs stay in event records, referenced by event id. Its size
 * is O(triggers + tasks + unstarted instances), whatever the session's history.
 */
export interface SessionState {
  workflow: string;
  /**
   * The version (a content hash) of the workflow the session was created with: it keeps
   * running under those rules when a changed workflow is deployed. Set by the I/O shell when
   * it creates the session; absent on sessions created before versions were pinned.
   */
  version?: string;
  /** Per trigger the workflow mentions: how often it fired and the event holding its latest kwargs. */
  fired: Record<string, { count: number; last: string }>;
  /** Per task: the number of the next instance (so also how many instances it has). */
  next: Record<string, number>;
  /** Per task that has any: its unstarted instances, by number. */
  unstarted: Record<string, UnstartedInstance[]>;
  /**
   * Workflows with a finalize trigger only: instances scheduled and not known to be resolved
   * (scheduled, running or failed), sorted.
   */
  open?: string[];
  /** Workflows with a finalize trigger only: set once the finalize trigger has been fired. */
  finalized?: true;
}

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
export type SessionEvent =
  | FireEvent
  | CloneEvent
  | ReplayEvent
  | SkipEvent
  | ResolvedEvent
  | OutcomeEvent;

/** Events that change the session state and so go through the evaluator, one at a time. */
export type SessionStateEvent = FireEvent | CloneEvent | ReplayEvent | SkipEvent | ResolvedEvent;

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
      source?: 'finalize' | 'timer';
    }
  /** Tell the session that an instance was resolved without a cascade (see `ResolvedEvent`). */
  | { type: 'notice'; eventId: string; instance: string }
  /** Insert this clone event into the session (a handler's `Retry`). */
  | { type: 'retry'; event: CloneEvent }
  /** The event was refused and changes nothing. */
  | { type: 'reject'; eventId: string; code: 'NOT_FOUND' | 'INSTANCE_NOT_FAILED'; message: string };

/** The result of applying one event. */
export interface Applied {
  state: SessionState;
  effects: Effect[];
}

/** The state of a session no event has touched yet. */
export function initialState(workflow: CompiledWorkflow): SessionState {
  return { workflow: workflow.name, fired: {}, next: {}, unstarted: {} };
}

/**
 * Ids of events the system makes itself. They contain `#`, which application event ids may
 * not, so no application event can take (and so suppress) one of them.
 */
export function internalEventId(kind: string, ...parts: Array<string | number>): string {
  return [kind, ...parts].join('#');
}

/** The id of the cascade event an instance fires when it finishes (or is skipped with cascade). */
export function cascadeEventId(instance: string): string {
  return internalEventId('cascade', instance);
}

/** The id of the clone event an instance's `Retry` inserts. */
export function retryEventId(instance: string): string {
  return internalEventId('retry', instance);
}

/** The id of the notice an instance resolved without a cascade writes. */
export function resolvedEventId(instance: string): string {
  return internalEventId('resolved', instance);
}

/** The id of a session's finalize event (there is at most one). */
export const FINALIZE_EVENT_ID = internalEventId('finalize', 'session');

function copyState(s: SessionState): SessionState {
  return {
    workflow: s.workflow,
    ...(s.version !== undefined ? { version: s.version } : {}),
    fired: { ...s.fired },
    next: { ...s.next },
    unstarted: { ...s.unstarted },
    ...(s.open !== undefined ? { open: [...s.open] } : {}),
    ...(s.finalized ? { finalized: true as const } : {}),
  };
}

function seedOf(task: string, inst: UnstartedInstance): InstanceSeed {
  return {
    name: instanceName(task, inst.n),
    task,
    attempt: 0,
    kwargs: { refs: inst.kwargs },
    createdAt: inst.createdAt,
  };
}

/**
 * Applies trigger `trigger` (event `eventId`) to an unstarted instance: the changed instance, or
 * undefined when it took nothing (it already had that trigger, or does not listen to it).
 */
function applyTrigger(
  inst: UnstartedInstance,
  task: CompiledTask,
  trigger: string,
  eventId: string,
): UnstartedInstance | undefined {
  const takeKwargs = task.requires.includes(trigger) && !Object.hasOwn(inst.kwargs, trigger);
  const takeAbandon = task.unless.includes(trigger) && !inst.abandon.includes(trigger);
  if (!takeKwargs && !takeAbandon) return undefined;
  const kwargs = { ...inst.kwargs };
  if (takeKwargs) setOwn(kwargs, trigger, eventId);
  return { ...inst, kwargs, abandon: takeAbandon ? [...inst.abandon, trigger] : inst.abandon };
}

function canAbandon(inst: UnstartedInstance, task: CompiledTask): boolean {
  return task.unless.length > 0 && task.unless.every((t) => inst.abandon.includes(t));
}

function canRun(inst: UnstartedInstance, task: CompiledTask): boolean {
  return task.requires.every((t) => Object.hasOwn(inst.kwargs, t));
}

function applyFire(workflow: CompiledWorkflow, state: SessionState, event: FireEvent): Applied {
  const next = copyState(state);
  const effects: Effect[] = [];
  const { trigger, eventId, at } = event;
  for (const task of workflow.listeners.get(trigger) ?? []) {
    const before = getOwn(next.unstarted, task.name) ?? [];
    const count = getOwn(next.next, task.name) ?? 0;
    let create = count === 0 || trigger === task.andEvery;
    // Only instances that took the trigger are copied: a long list of waiting andEvery
    // instances costs a scan, not a copy.
    const touched: UnstartedInstance[] = [];
    const waiting: UnstartedInstance[] = [];
    for (const inst of before) {
      const changed = applyTrigger(inst, task, trigger, eventId);
      if (changed) {
        create = false;
        touched.push(changed);
      } else {
        waiting.push(inst);
      }
    }
    if (create) {
      setOwn(next.next, task.name, count + 1);
      const kwargs: Record<string, string> = {};
      for (const t of task.requires) {
        const fired = getOwn(next.fired, t);
        if (t !== trigger && fired) setOwn(kwargs, t, fired.last);
      }
      const fresh: UnstartedInstance = {
        n: count,
        kwargs,
        abandon: task.unless.filter((t) => t !== trigger && getOwn(next.fired, t) !== undefined),
        createdAt: at,
      };
      touched.push(applyTrigger(fresh, task, trigger, eventId) ?? fresh);
      effects.push({
        type: 'create',
        instance: instanceName(task.name, count),
        task: task.name,
        at,
      });
    }
    // Only the instances that changed can have become ready or abandoned.
    for (const inst of touched) {
      if (canAbandon(inst, task)) {
        effects.push({ type: 'abandon', instance: seedOf(task.name, inst) });
      } else if (canRun(inst, task)) {
        // A timer is a built-in task that waits out its delay before it runs (and fires).
        const delaySeconds = 'timer' in task ? (task as CompiledTimer).timer.afterSeconds : 0;
        effects.push({ type: 'schedule', instance: seedOf(task.name, inst), delaySeconds });
      } else {
        waiting.push(inst);
      }
    }
    if (touched.length > 0) {
      waiting.sort((x, y) => x.n - y.n);
      if (waiting.length > 0) setOwn(next.unstarted, task.name, waiting);
      else delete next.unstarted[task.name];
    }
  }
  if (workflow.listeners.has(trigger)) {
    setOwn(next.fired, trigger, {
      count: (getOwn(next.fired, trigger)?.count ?? 0) + 1,
      last: eventId,
    });
  }
  return { state: next, effects };
}

function cloneEffects(
  state: SessionState,
  task: string,
  parent: string,
  parentAttempt: number,
  kwargs: Record<string, Kwargs> | undefined,
  delaySeconds: number,
  at: string,
): Applied {
  const next = copyState(state);
  const n = getOwn(next.next, task) ?? 0;
  setOwn(next.next, task, n + 1);
  const name = instanceName(task, n);
  return {
    state: next,
    effects: [
      { type: 'create', instance: name, task, at },
      {
        type: 'schedule',
        instance: {
          name,
          task,
          attempt: parentAttempt + 1,
          parent,
          kwargs: kwargs === undefined ? { inherit: parent } : { literal: kwargs },
          createdAt: at,
        },
        delaySeconds,
      },
    ],
  };
}

/**
 * What a replay or skip request acts on: the instance as observed (or unstarted in the state),
 * or the refusal to apply when it is unknown or has not failed.
 */
function failedInstance(
  workflow: CompiledWorkflow,
  state: SessionState,
  e: ReplayEvent | SkipEvent,
): { task: string; attempt: number } | { refused: Applied } {
  const observed = e.observed ?? unstartedObservation(state, e.instance);
  if (!observed || !workflow.tasks.has(observed.task)) {
    const message = `instance '${e.instance}' does not exist in this session`;
    return {
      refused: {
        state,
        effects: [{ type: 'reject', eventId: e.eventId, code: 'NOT_FOUND', message }],
      },
    };
  }
  if (observed.status !== 'failed') {
    const message = notFailedMessage(e.instance, observed.status, e.type);
    return {
      refused: {
        state,
        effects: [{ type: 'reject', eventId: e.eventId, code: 'INSTANCE_NOT_FAILED', message }],
      },
    };
  }
  return { task: observed.task, attempt: observed.attempt ?? 0 };
}

function applyReplay(workflow: CompiledWorkflow, state: SessionState, e: ReplayEvent): Applied {
  const target = failedInstance(workflow, state, e);
  if ('refused' in target) return target.refused;
  const cloned = cloneEffects(state, target.task, e.instance, target.attempt, e.kwargs, 0, e.at);
  return {
    state: cloned.state,
    effects: [
      {
        type: 'record',
        instance: e.instance,
        task: target.task,
        expect: ['failed'],
        status: 'replayed',
        at: e.at,
      },
      ...cloned.effects,
    ],
  };
}

function applySkip(workflow: CompiledWorkflow, state: SessionState, e: SkipEvent): Applied {
  const target = failedInstance(workflow, state, e);
  if ('refused' in target) return target.refused;
  const effects: Effect[] = [
    {
      type: 'record',
      instance: e.instance,
      task: target.task,
      expect: ['failed'],
      status: 'skipped',
      metadata: { cascade: e.cascade, ...(e.cascade ? { result: e.result ?? {} } : {}) },
      at: e.at,
    },
  ];
  if (e.cascade && cascades(workflow, target.task)) {
    effects.push({
      type: 'cascade',
      eventId: cascadeEventId(e.instance),
      trigger: target.task,
      kwargs: e.result ?? {},
    });
  }
  return { state, effects };
}

/** An unstarted instance lives only in the state: report it as such to replay/skip requests. */
function unstartedObservation(
  state: SessionState,
  instance: string,
): { status: InstanceStatus; task: string; attempt: number } | undefined {
  const parsed = parseInstanceName(instance);
  return parsed && findUnstarted(state, instance)
    ? { status: 'unstarted', task: parsed.task, attempt: 0 }
    : undefined;
}

/** The unstarted instance of that name, if the state holds it. */
export function findUnstarted(
  state: SessionState,
  instance: string,
): UnstartedInstance | undefined {
  const parsed = parseInstanceName(instance);
  if (!parsed) return undefined;
  return getOwn(state.unstarted, parsed.task)?.find((i) => i.n === parsed.n);
}

/**
 * Decides what a handler's outcome means for its instance. Needs no session state: the task
 * runner calls it directly, and `apply` delegates to it for `outcome` events.
 *
 * | outcome | instance | effects |
 * |---|---|---|
 * | returns an object, `undefined` or `null` | finished | record + cascade (when a task listens) |
 * | returns anything else | failed (`InvalidResultError`) | record |
 * | `Retry`, attempts left | replayed | record + retry (a clone event) |
 * | `Retry`, `attempt >= maxRetries` | failed (`MaxRetriesExceeded`) | record |
 * | `Skip` | skipped | record |
 * | throws | failed | record |
 */
export function decideOutcome(workflow: CompiledWorkflow, e: OutcomeEvent): Effect[] {
  const task = workflow.allTasks.get(e.task);
  const base = {
    type: 'record' as const,
    instance: e.instance,
    task: e.task,
    expect: ['running' as InstanceStatus],
    at: e.at,
    ...(e.logLevel ? { logLevel: e.logLevel } : {}),
  };
  const o = e.outcome;
  switch (o.kind) {
    case 'returned': {
      const value = o.value ?? {};
      if (!isPlainObject(value)) {
        const shape = Array.isArray(value) ? 'an array' : `a ${typeof value}`;
        return [
          {
            ...base,
            status: 'failed',
            error: {
              type: 'InvalidResultError',
              message: `task '${e.task}' returned ${shape}; a handler must return an object (or nothing), which becomes the cascade kwargs`,
            },
          },
        ];
      }
      const finished: Effect = { ...base, status: 'finished', result: value };
      // A cascade nothing listens to would change nothing: it is not written at all.
      if (!cascades(workflow, e.task)) return [finished];
      return [
        finished,
        {
          type: 'cascade',
          eventId: cascadeEventId(e.instance),
          trigger: e.task,
          kwargs: value,
          ...(workflow.timers.has(e.task) ? { source: 'timer' as const } : {}),
        },
      ];
    }
    case 'threw':
      return [{ ...base, status: 'failed', error: o.error }];
    case 'skip': {
      const skipped: Effect = {
        ...base,
        status: 'skipped',
        ...(o.metadata ? { metadata: o.metadata } : {}),
      };
      if (workflow.finalizeTrigger === undefined) return [skipped];
      return [
        skipped,
        { type: 'notice', eventId: resolvedEventId(e.instance), instance: e.instance },
      ];
    }
    case 'retry': {
      const maxRetries = task?.maxRetries ?? 0;
      if (e.attempt >= maxRetries) {
        return [
          {
            ...base,
            status: 'failed',
            error: {
              type: 'MaxRetriesExceeded',
              message: `task '${e.task}' asked to retry, but instance '${e.instance}' is attempt ${e.attempt} and maxRetries is ${maxRetries}`,
            },
          },
        ];
      }
      const delaySeconds = Math.max(0, Math.ceil(o.cooldownSeconds ?? 0));
      return [
        { ...base, status: 'replayed' },
        {
          type: 'retry',
          event: {
            type: 'clone',
            eventId: retryEventId(e.instance),
            parent: e.instance,
            task: e.task,
            parentAttempt: e.attempt,
            ...(o.replacementKwargs ? { kwargs: o.replacementKwargs } : {}),
            ...(delaySeconds > 0 ? { delaySeconds } : {}),
            at: e.at,
          },
        },
      ];
    }
  }
}

/**
 * The session reducer: applies one event to a session's state and says what must happen.
 * Pure and deterministic: no I/O, no clock (time comes in with the event).
 *
 * @example
 * const wf = compileWorkflow(defineWorkflow('w', { t_a: { after: ['x'], run: 'h' } }));
 * const { state, effects } = apply(wf, initialState(wf), { type: 'fire', eventId: 'e1', trigger: 'x', at: now });
 * // effects: create t_a#0, schedule t_a#0
 */
export function apply(
  workflow: CompiledWorkflow,
  state: SessionState,
  event: SessionEvent,
): Applied {
  if (event.type === 'outcome') return { state, effects: decideOutcome(workflow, event) };
  const applied = applyStateEvent(workflow, state, event);
  return workflow.finalizeTrigger === undefined
    ? applied
    : trackResolution(workflow, event, applied);
}

/**
 * Whether a finished (or cascading skipped) instance of `task` writes its cascade: when a task
 * or timer listens to it, or the workflow has a finalize trigger (the cascade then also tells
 * the session that the instance is resolved).
 */
function cascades(workflow: CompiledWorkflow, task: string): boolean {
  return workflow.listeners.has(task) || workflow.finalizeTrigger !== undefined;
}

/** The instance a cascade event comes from, when the event is a cascade. */
function cascadeSource(eventId: string): string | undefined {
  const prefix = cascadeEventId('');
  return eventId.startsWith(prefix) ? eventId.slice(prefix.length) : undefined;
}

/**
 * Workflows with a finalize trigger: keeps the set of open instances (scheduled and not known
 * to be resolved) and fires the finalize trigger, once, when every counted task has instances
 * and none of them is unstarted or open.
 */
function trackResolution(
  workflow: CompiledWorkflow,
  event: SessionStateEvent,
  applied: Applied,
): Applied {
  const state = copyState(applied.state);
  const open = new Set(state.open ?? []);
  const closed =
    event.type === 'fire'
      ? cascadeSource(event.eventId)
      : event.type === 'resolved'
        ? event.instance
        : event.type === 'clone'
          ? event.parent
          : undefined;
  if (closed !== undefined) open.delete(closed);
  for (const effect of applied.effects) {
    if (effect.type === 'schedule') open.add(effect.instance.name);
    if (effect.type === 'record' && effect.status !== 'failed') open.delete(effect.instance);
  }
  state.open = [...open].sort();
  const effects = [...applied.effects];
  if (!state.finalized && allResolved(workflow, state, open)) {
    state.finalized = true;
    effects.push({
      type: 'cascade',
      eventId: FINALIZE_EVENT_ID,
      trigger: workflow.finalizeTrigger as string,
      kwargs: {},
      source: 'finalize',
    });
  }
  return { state, effects };
}

function allResolved(
  workflow: CompiledWorkflow,
  state: SessionState,
  open: ReadonlySet<string>,
): boolean {
  const openTasks = new Set([...open].map((name) => parseInstanceName(name)?.task));
  for (const task of workflow.tasks.keys()) {
    if (workflow.finalizeExempt.has(task)) continue;
    if ((getOwn(state.next, task) ?? 0) === 0) return false;
    if ((getOwn(state.unstarted, task)?.length ?? 0) > 0) return false;
    if (openTasks.has(task)) return false;
  }
  return true;
}

function applyStateEvent(
  workflow: CompiledWorkflow,
  state: SessionState,
  event: SessionStateEvent,
): Applied {
  switch (event.type) {
    case 'fire':
      return applyFire(workflow, state, event);
    case 'clone':
      return cloneEffects(
        state,
        event.task,
        event.parent,
        event.parentAttempt,
        event.kwargs,
        event.delaySeconds ?? 0,
        event.at,
      );
    case 'replay':
      return applyReplay(workflow, state, event);
    case 'skip':
      return applySkip(workflow, state, event);
    case 'resolved':
      return { state, effects: [] };
  }
}
