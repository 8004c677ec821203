/**
 * The session reducer: applies one event (a fire, clone, replay, skip or notice) to a session's
 * state and returns the next state with the effects the I/O shell must carry out.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import { notFailedMessage } from '../errors.ts';
import type { InstanceStatus, Kwargs } from '../types.ts';
import {
  type Applied,
  cascadeEventId,
  type Effect,
  type FireEvent,
  type InstanceSeed,
  type MetadataEvent,
  type Observed,
  type ReplayEvent,
  type ResolveLogsEvent,
  type SessionEvent,
  type SessionStateEvent,
  type SkipEvent,
  type StatusEvent,
  statusCascadeEventId,
} from './events.ts';
import { trackResolution } from './finalize.ts';
import { getOwn, setOwn } from './kwargs.ts';
import { instanceName, parseInstanceName } from './names.ts';
import { cascades, decideOutcome } from './outcome.ts';
import { copyState, findUnstarted, type SessionState, type UnstartedInstance } from './state.ts';
import type { CompiledTask, CompiledTimer, CompiledWorkflow } from './workflow.ts';

/**
 * The session reducer: applies one event to a session's state and says what must happen.
 * Pure and deterministic: no I/O, no clock (time comes in with the event).
 * Handler outcomes are decided by `decideOutcome`; in workflows with a finalize trigger,
 * `trackResolution` then keeps the open instances and fires the finalize trigger.
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

function seedOf(task: string, inst: UnstartedInstance): InstanceSeed {
  return {
    name: instanceName(task, inst.n),
    task,
    attempt: 0,
    kwargs: { refs: inst.kwargs },
    createdAt: inst.createdAt,
    ...(inst.metadata !== undefined ? { metadata: inst.metadata } : {}),
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
  // Every trigger is remembered, also one no task listens to yet: a task configured later for
  // the session is evaluated against everything fired (its kwargs come from the latest). Those
  // no task listens to are remembered up to a bound, so no application can grow the head
  // past what one item holds by firing ever new names.
  const seen = getOwn(next.fired, trigger);
  if (
    seen !== undefined ||
    workflow.listeners.has(trigger) ||
    Object.keys(next.fired).length < MAX_REMEMBERED_TRIGGERS
  ) {
    setOwn(next.fired, trigger, { count: (seen?.count ?? 0) + 1, last: eventId });
  }
  return { state: next, effects };
}

/**
 * How many distinct triggers a session remembers (`SessionState.fired`) before it stops
 * remembering new ones no task of its workflow listens to; the ones tasks listen to are always
 * remembered.
 */
export const MAX_REMEMBERED_TRIGGERS = 256;

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
      skip: true,
    });
  }
  return { state, effects };
}

/** The statuses an operator may set by hand; the others are the runtime's to set. */
export const SETTABLE_STATUSES: readonly InstanceStatus[] = [
  'finished',
  'failed',
  'abandoned',
  'replayed',
  'skipped',
];

/**
 * What an admin request (metadata, resolve-logs, status) acts on: the instance as observed, or
 * the refusal when it is unknown, has no record yet (unstarted), or, for a status change, a
 * worker holds or may take it (scheduled, running).
 */
function adminTarget(
  workflow: CompiledWorkflow,
  state: SessionState,
  e: MetadataEvent | ResolveLogsEvent | StatusEvent,
): Observed | { refused: Applied } {
  const refuse = (code: 'NOT_FOUND' | 'INSTANCE_STATE', message: string) => ({
    refused: { state, effects: [{ type: 'reject' as const, eventId: e.eventId, code, message }] },
  });
  const observed = e.observed;
  if (!observed || !workflow.allTasks.has(observed.task)) {
    // (Metadata for an unstarted instance was kept in the state before this is asked.)
    if (findUnstarted(state, e.instance)) {
      return refuse(
        'INSTANCE_STATE',
        `instance '${e.instance}' is unstarted: it has no record to change until it is scheduled`,
      );
    }
    return refuse('NOT_FOUND', `instance '${e.instance}' does not exist in this session`);
  }
  if (e.type === 'status' && (observed.status === 'scheduled' || observed.status === 'running')) {
    return refuse(
      'INSTANCE_STATE',
      `instance '${e.instance}' is ${observed.status}: its status cannot be set while a worker holds or may take it`,
    );
  }
  return observed;
}

/** Metadata merged into an unstarted instance: kept in the state until its record is written. */
function annotateUnstarted(state: SessionState, e: MetadataEvent): Applied | undefined {
  const parsed = parseInstanceName(e.instance);
  const waiting = parsed ? getOwn(state.unstarted, parsed.task) : undefined;
  if (!parsed || !waiting?.some((i) => i.n === parsed.n)) return undefined;
  const next = copyState(state);
  setOwn(
    next.unstarted,
    parsed.task,
    waiting.map((i) =>
      i.n === parsed.n ? { ...i, metadata: { ...i.metadata, ...e.metadata } } : i,
    ),
  );
  return { state: next, effects: [] };
}

function applyAdmin(
  workflow: CompiledWorkflow,
  state: SessionState,
  e: MetadataEvent | ResolveLogsEvent | StatusEvent,
): Applied {
  if (e.type === 'metadata' && !e.observed) {
    const annotated = annotateUnstarted(state, e);
    if (annotated) return annotated;
  }
  const target = adminTarget(workflow, state, e);
  if ('refused' in target) return target.refused;
  const base = {
    type: 'record' as const,
    instance: e.instance,
    task: target.task,
    // Guarded by the status as read: a concurrent outcome makes the commit retry, re-read.
    expect: [target.status],
    at: e.at,
  };
  if (e.type === 'metadata') {
    return {
      state,
      effects: [
        {
          ...base,
          status: target.status,
          metadata: { ...target.metadata, ...e.metadata },
          keepLease: true,
        },
      ],
    };
  }
  if (e.type === 'resolve-logs') {
    return {
      state,
      effects: [{ ...base, status: target.status, logsResolved: true, keepLease: true }],
    };
  }
  if (!SETTABLE_STATUSES.includes(e.status)) {
    const message = `status '${e.status}' cannot be set by hand (use one of ${SETTABLE_STATUSES.join(', ')})`;
    return {
      state,
      effects: [{ type: 'reject', eventId: e.eventId, code: 'INSTANCE_STATE', message }],
    };
  }
  const effects: Effect[] = [
    {
      ...base,
      status: e.status,
      ...(e.metadata !== undefined ? { metadata: { ...target.metadata, ...e.metadata } } : {}),
    },
  ];
  if (e.cascade && e.status === 'finished' && cascades(workflow, target.task)) {
    effects.push({
      type: 'cascade',
      eventId: statusCascadeEventId(e.instance, e.eventId),
      trigger: target.task,
      kwargs: e.cascadeKwargs ?? {},
      source: 'control',
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
    case 'metadata':
    case 'resolve-logs':
    case 'status':
      return applyAdmin(workflow, state, event);
    case 'configure':
      // Only the version changes: nothing fired before is applied again.
      return { state: { ...copyState(state), version: event.version }, effects: [] };
  }
}
