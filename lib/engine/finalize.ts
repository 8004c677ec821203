/**
 * The finalize trigger: for workflows that declare one, tracks which instances are still open
 * and fires the trigger, once, when every counted task's instances are resolved.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import {
  type Applied,
  cascadeEventId,
  FINALIZE_EVENT_ID,
  type SessionStateEvent,
} from './events.ts';
import { getOwn } from './kwargs.ts';
import { parseInstanceName } from './names.ts';
import { copyState, type SessionState } from './state.ts';
import type { CompiledWorkflow } from './workflow.ts';

/**
 * The instance a cascade event comes from, when the event is a cascade.
 *
 * @example
 * cascadeSource('cascade#t_a#0'); // 't_a#0'
 */
export function cascadeSource(eventId: string): string | undefined {
  const prefix = cascadeEventId('');
  return eventId.startsWith(prefix) ? eventId.slice(prefix.length) : undefined;
}

/**
 * Workflows with a finalize trigger: keeps the set of open instances (scheduled and not known
 * to be resolved) and fires the finalize trigger, once, when every counted task has instances
 * and none of them is unstarted or open.
 *
 * @example
 * let applied = applyStateEvent(workflow, state, event);
 * if (workflow.finalizeTrigger !== undefined) applied = trackResolution(workflow, event, applied);
 */
export function trackResolution(
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
