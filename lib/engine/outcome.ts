/**
 * What a handler's outcome (returned, threw, `Retry`, `Skip`) means for its instance: the
 * record to write and the cascade, retry or notice that follows. Needs no session state.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import type { InstanceStatus } from '../types.ts';
import {
  cascadeEventId,
  type Effect,
  type OutcomeEvent,
  resolvedEventId,
  retryEventId,
} from './events.ts';
import { isPlainObject } from './kwargs.ts';
import type { CompiledWorkflow } from './workflow.ts';

/**
 * Decides what a handler's outcome means for its instance. Needs no session state: the task
 * runner calls it directly, and `apply` delegates to it for `outcome` events.
 *
 * | outcome | instance | effects |
 * |---|---|---|
 * | returns an object, `undefined` or `null` | finished | record + cascade (when `cascades`) |
 * | returns anything else | failed (`InvalidResultError`) | record |
 * | `Retry`, attempts left | replayed | record + retry (a clone event) |
 * | `Retry`, `attempt >= maxRetries` | failed (`MaxRetriesExceeded`) | record |
 * | `Skip` | skipped | record (+ notice, with a finalize trigger) |
 * | throws | failed | record |
 *
 * @example
 * const outcome = { kind: 'returned', value: { ok: true } } as const;
 * decideOutcome(wf, { type: 'outcome', instance: 't_a#0', task: 't_a', attempt: 0, outcome, at });
 * // [record t_a#0 finished with result { ok: true }, cascade 't_a' (when a task listens to it)]
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
 * Whether a finished (or cascading skipped) instance of `task` writes its cascade: when a task
 * or timer listens to it, or the workflow has a finalize trigger (the cascade then also tells
 * the session that the instance is resolved).
 *
 * @example
 * if (e.cascade && cascades(workflow, task)) effects.push({ type: 'cascade', ... });
 */
export function cascades(workflow: CompiledWorkflow, task: string): boolean {
  return workflow.listeners.has(task) || workflow.finalizeTrigger !== undefined;
}
