/**
 * The task runner's flow: claims a delivered instance, runs its handler (or a timer's built-in
 * one) and commits the outcome together with its cascade or its retry.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { type HandlerOutcome, internalEventId } from '../engine/events.ts';
import { handlerKwargs, isPlainObject } from '../engine/kwargs.ts';
import type { CompiledTimer } from '../engine/workflow.ts';
import { InstanceBusyError, isRefusal, TriggersError } from '../errors.ts';
import { Retry, Skip } from '../handler.ts';
import {
  type EventRecord,
  type InstanceRecord,
  resolveKwargs,
  type SessionStore,
} from '../store/port.ts';
import type { InstanceError, Kwargs, TaskContext, TaskHandler } from '../types.ts';
import { addSeconds, type Clock } from './clock.ts';
import {
  cascadeEventRecord,
  cloneEventRecord,
  recordToUpdate,
  resolvedEventRecord,
} from './evaluator.ts';
import type { FaultHook } from './faults.ts';
import { fireEvent } from './ingest.ts';
import { type LogSink, RecordingLogger } from './log.ts';
import type { WorkflowRegistry } from './registry.ts';
import type { SendTask, TaskMessage } from './task-message.ts';
import { jsonShapeProblem, MAX_RESULT_BYTES } from './validation.ts';

/** What the task runner needs. */
export interface TaskRunnerDeps {
  store: SessionStore;
  registry: WorkflowRegistry;
  /** The handler a task's `run` names; undefined when this runner has none of that name. */
  handlerFor: (name: string) => TaskHandler | undefined;
  clock: Clock;
  log: LogSink;
  /** How long a claim holds before another delivery may take the instance over. @default 900 */
  leaseSeconds?: number;
  /** Test-only crash points. */
  faults?: FaultHook;
  /** Sends a message on, for one that arrived before its `notBefore`. */
  send?: SendTask;
}

/** What became of one delivery. */
export type RunResult = 'ran' | 'duplicate' | 'lost-lease' | 'deferred';

/** The error recorded for anything a handler throws that is not `Retry` or `Skip`. */
export function describeError(err: unknown): InstanceError {
  if (err instanceof Error) {
    const out: InstanceError = {
      type: err.name || err.constructor.name || 'Error',
      message: err.message,
    };
    if (err.stack) out.stack = err.stack;
    const context = (err as { context?: unknown }).context;
    if (isPlainObject(context)) out.context = context;
    return out;
  }
  return { type: typeof err, message: String(err) };
}

function classify(err: unknown): HandlerOutcome {
  if (err instanceof Retry) {
    return {
      kind: 'retry',
      ...(err.cooldownSeconds !== undefined ? { cooldownSeconds: err.cooldownSeconds } : {}),
      ...(err.replacementKwargs !== undefined ? { replacementKwargs: err.replacementKwargs } : {}),
    };
  }
  if (err instanceof Skip)
    return { kind: 'skip', ...(err.metadata ? { metadata: err.metadata } : {}) };
  return { kind: 'threw', error: describeError(err) };
}

/**
 * Turns a handler's result, `Skip` metadata or `Retry` replacement kwargs that cannot be stored
 * (not JSON, over `MAX_RESULT_BYTES`, nested too deep) into a failure that
 * says why, so the outcome commit always fits an item and the instance never turns into poison.
 */
function storable(outcome: HandlerOutcome, task: string): HandlerOutcome {
  const [value, what] =
    outcome.kind === 'returned'
      ? [outcome.value, 'result']
      : outcome.kind === 'skip'
        ? [outcome.metadata, 'Skip metadata']
        : outcome.kind === 'retry'
          ? [outcome.replacementKwargs, 'Retry replacement kwargs']
          : [undefined, ''];
  if (typeof value !== 'object' || value === null) return outcome;
  const failed = (type: string, message: string): HandlerOutcome => ({
    kind: 'threw',
    error: { type, message: `task '${task}': ${message}` },
  });
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return failed('InvalidResultError', `the ${what} is not JSON (${reason})`);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_RESULT_BYTES) {
    return failed(
      'ResultTooLargeError',
      `the ${what} is ${bytes} bytes as JSON, over the limit of ${MAX_RESULT_BYTES}; keep large data elsewhere and return a reference to it`,
    );
  }
  // Keys are not checked: handler code is trusted, and a workflow may name a trigger
  // `__proto__` (its kwargs then carry that key, as data); callers' input is checked at the API.
  const shape = jsonShapeProblem(value, { keys: false });
  return shape === undefined ? outcome : failed('InvalidResultError', `the ${what} ${shape}`);
}

/**
 * The built-in handler of a timer: its instance was scheduled with the timer's delay when the
 * `from` trigger first fired, so running it means the timer is due. Its result, the kwargs its
 * cascade fires the timer's trigger with, says when it was armed, when it fell due, and by
 * which event.
 */
function timerHandler(instance: InstanceRecord, timer: CompiledTimer): TaskHandler {
  const armedAt = instance.createdAt;
  const dueAt = addSeconds(armedAt, timer.timer.afterSeconds);
  const by = instance.kwargsRefs?.[timer.timer.from] ?? null;
  return () => ({ armedAt, dueAt, by });
}

/**
 * Runs one delivered instance: claims it (scheduled → running, with a lease), runs its handler,
 * then commits the outcome together with its cascade (or its retry request) atomically. A
 * duplicate delivery finds the instance claimed or resolved and returns without running it.
 *
 * @example
 * await runInstance(deps, { sessionId: 's1', instance: 't_alpha#0' });
 */
export async function runInstance(deps: TaskRunnerDeps, message: TaskMessage): Promise<RunResult> {
  const { store, clock } = deps;
  const now = clock.now();
  if (
    message.notBefore !== undefined &&
    deps.send &&
    Date.parse(message.notBefore) > now.getTime()
  ) {
    const record = await store.getInstance(message.sessionId, message.instance);
    if (record?.status !== 'scheduled') return 'duplicate';
    const remaining = Math.ceil((Date.parse(message.notBefore) - now.getTime()) / 1000);
    await deps.send(
      record.queue,
      { sessionId: message.sessionId, instance: message.instance },
      remaining,
    );
    return 'deferred';
  }
  const leaseUntil = new Date(now.getTime() + (deps.leaseSeconds ?? 900) * 1000).toISOString();
  const claim = await store.claimInstance(
    message.sessionId,
    message.instance,
    now.toISOString(),
    leaseUntil,
  );
  if (!claim) {
    const current = await store.getInstance(message.sessionId, message.instance);
    // Another delivery holds a live lease: keep this message, so that it comes back after the
    // visibility timeout and takes over if that run died.
    if (current?.status === 'running') throw new InstanceBusyError(message.instance);
    return 'duplicate';
  }
  const [claimed] = (await resolveKwargs(store, [claim])) as [InstanceRecord];
  const site = { sessionId: claimed.sessionId, instance: claimed.name };
  deps.faults?.('task.afterClaim', site);

  // Outcomes are decided under the rules of the version the session is pinned to (maxRetries,
  // withParams, extras), whatever version is deployed now.
  const engine = await deps.registry.engineFor(claimed.workflow, claimed.workflowVersion, store);
  const task = engine.workflow.allTasks.get(claimed.task);
  const logger = new RecordingLogger(
    deps.log,
    { sessionId: claimed.sessionId, instance: claimed.name, task: claimed.task },
    () => clock.now(),
  );
  let fires = 0;
  let fireFailure: { error: unknown } | undefined;
  const ctx: TaskContext = {
    sessionId: claimed.sessionId,
    instance: claimed.name,
    task: claimed.task,
    attempt: claimed.attempt,
    kwargs: handlerKwargs(task?.withParams ?? {}, claimed.kwargs),
    extras: { ...(task?.extras ?? {}) },
    logger,
    fire: async (trigger: string, kwargs?: Kwargs) => {
      // Deterministic ids: a re-run of the same instance after a lost lease fires nothing twice.
      fires += 1;
      try {
        await fireEvent(
          deps,
          { sessionId: claimed.sessionId, trigger, ...(kwargs !== undefined ? { kwargs } : {}) },
          { source: 'handler', eventId: internalEventId('fire', claimed.name, fires) },
        );
      } catch (error) {
        // A fire that did not go through for a reason of its own (the store, a crash) fails
        // this delivery, not the handler: the message comes back and the re-run fires again
        // under the same ids. A fire the handler got wrong (invalid input) is the handler's.
        if (!isRefusal(error)) fireFailure ??= { error };
        throw error;
      }
    },
  };

  let outcome: HandlerOutcome;
  const timer = engine.workflow.timers.get(claimed.task);
  const handler = timer ? timerHandler(claim, timer) : deps.handlerFor(claimed.handler);
  if (!handler) {
    outcome = {
      kind: 'threw',
      error: {
        type: 'HandlerNotFoundError',
        message: `no task handler named '${claimed.handler}' is registered for task '${claimed.task}'`,
      },
    };
  } else {
    try {
      outcome = { kind: 'returned', value: await handler(ctx) };
    } catch (err) {
      outcome = classify(err);
    }
    outcome = storable(outcome, claimed.task);
  }
  if (fireFailure) throw fireFailure.error;

  deps.faults?.('task.afterHandler', site);
  const at = clock.now().toISOString();
  const effects = engine.decideOutcome({
    type: 'outcome',
    instance: claimed.name,
    task: claimed.task,
    attempt: claimed.attempt,
    outcome,
    ...(logger.highest ? { logLevel: logger.highest } : {}),
    at,
  });
  const events: EventRecord[] = [];
  let update: ReturnType<typeof recordToUpdate> | undefined;
  for (const effect of effects) {
    if (effect.type === 'record') update = recordToUpdate(claimed.sessionId, effect);
    else if (effect.type === 'cascade') {
      events.push(cascadeEventRecord(claimed.sessionId, effect, at));
    } else if (effect.type === 'retry') {
      events.push(cloneEventRecord(claimed.sessionId, effect.event));
    } else if (effect.type === 'notice') {
      events.push(resolvedEventRecord(claimed.sessionId, effect, at));
    }
  }
  if (!update) {
    throw new TriggersError(`no outcome recorded for '${claimed.name}'`, { code: 'INTERNAL' });
  }
  const committed = await store.commitOutcome({ update, leaseUntil, events });
  if (committed) deps.faults?.('task.afterCommit', site);
  return committed ? 'ran' : 'lost-lease';
}
