/**
 * Lifecycle events: what the application hears after the framework acts on a session (a
 * trigger fired, an instance replayed, skipped or failed, a session finalized). The evaluator
 * leaves a note of each in the head it commits; one stream consumer turns notes and instance
 * changes into these events for a sink: EventBridge on AWS, the test runtime's hooks, the local
 * stack's console and inspector.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { cascadeEventId } from '../engine/events.ts';
import { cascades } from '../engine/outcome.ts';
import type { InstanceRecord, LifecycleNote, WorkflowVersionSource } from '../store/port.ts';

export type { LifecycleNote } from '../store/port.ts';

import type { InstanceError, InstanceStatus } from '../types.ts';
import type { WorkflowRegistry } from './registry.ts';

/** The EventBridge `source` of every lifecycle event. */
export const LIFECYCLE_EVENT_SOURCE = 'serverless-triggers';

/** A trigger was applied to a session: `scheduled` lists the instances it made ready. */
export interface TriggerFiredDetail {
  sessionId: string;
  workflow: string;
  trigger: string;
  eventId: string;
  scheduled: string[];
}
/** A failed instance was replayed: `instance` is the new clone, `parent` the failed one. */
export interface InstanceReplayedDetail {
  sessionId: string;
  instance: string;
  parent: string;
}
/** A failed instance was skipped (after its cascade's `Trigger Fired` when it cascaded). */
export interface InstanceSkippedDetail {
  sessionId: string;
  instance: string;
  cascade: boolean;
}
/** An instance failed (its handler threw, returned a non-object, ran out of retries). */
export interface InstanceFailedDetail {
  sessionId: string;
  instance: string;
  error: InstanceError;
}
/** A workflow's finalize trigger fired. */
export interface SessionFinalizedDetail {
  sessionId: string;
  workflow: string;
}

/**
 * The test runtime's hooks, each given the payload of one lifecycle event. A hook may return a
 * promise, which is awaited before the next event's hook; any other return value is ignored.
 */
export interface LifecycleHooks {
  afterFire?(e: TriggerFiredDetail): unknown;
  afterReplay?(e: InstanceReplayedDetail): unknown;
  afterSkip?(e: InstanceSkippedDetail): unknown;
  afterFail?(e: InstanceFailedDetail): unknown;
  afterFinalize?(e: SessionFinalizedDetail): unknown;
}

/**
 * One lifecycle event: its EventBridge `detail-type` and its `detail`, whose `id` is the same on
 * every redelivery (consumers deduplicate on it).
 */
export type LifecycleEvent =
  | { detailType: 'Trigger Fired'; detail: TriggerFiredDetail & { id: string } }
  | { detailType: 'Instance Replayed'; detail: InstanceReplayedDetail & { id: string } }
  | { detailType: 'Instance Skipped'; detail: InstanceSkippedDetail & { id: string } }
  | { detailType: 'Instance Failed'; detail: InstanceFailedDetail & { id: string } }
  | { detailType: 'Session Finalized'; detail: SessionFinalizedDetail & { id: string } };

/** The `detail-type` of a lifecycle event. */
export type LifecycleDetailType = LifecycleEvent['detailType'];

/** A change a lifecycle consumer reads: a head with notes, or an instance's record. */
export type LifecycleChange =
  | { kind: 'head'; sessionId: string; workflow: string; notes: readonly LifecycleNote[] }
  | {
      kind: 'instance';
      sessionId: string;
      oldStatus: InstanceStatus | undefined;
      record: InstanceRecord;
    };

/** Where a lifecycle consumer looks up whether a finished task cascades. */
export interface LifecycleDeps {
  registry: WorkflowRegistry;
  store: WorkflowVersionSource;
}

const eventKey = (...parts: string[]): string => parts.join(':');

/**
 * The lifecycle events a change stands for, in order. A head gives one event per note; an
 * instance that has just failed gives `Instance Failed`; one that has just finished gives the
 * `Trigger Fired` of its cascade when its workflow writes no cascade (nothing listens to the
 * task), so every finished task shows as a fire, as in the original. Ids are derived from what
 * the change holds, so a redelivered change gives the same ids.
 *
 * @example
 * await lifecycleEvents(deps, { kind: 'head', sessionId: 's1', workflow: 'w', notes });
 * // [{ detailType: 'Trigger Fired', detail: { id: 'fired:s1:e1', sessionId: 's1', … } }]
 */
export async function lifecycleEvents(
  deps: LifecycleDeps,
  change: LifecycleChange,
): Promise<LifecycleEvent[]> {
  const { sessionId } = change;
  if (change.kind === 'head') {
    return change.notes.map((note): LifecycleEvent => {
      switch (note.t) {
        case 'fired':
          return {
            detailType: 'Trigger Fired',
            detail: {
              id: eventKey('fired', sessionId, note.eventId),
              sessionId,
              workflow: change.workflow,
              trigger: note.trigger,
              eventId: note.eventId,
              scheduled: note.scheduled,
            },
          };
        case 'replayed':
          return {
            detailType: 'Instance Replayed',
            detail: {
              id: eventKey('replayed', sessionId, note.eventId),
              sessionId,
              instance: note.instance,
              parent: note.parent,
            },
          };
        case 'skipped':
          return {
            detailType: 'Instance Skipped',
            detail: {
              id: eventKey('skipped', sessionId, note.eventId),
              sessionId,
              instance: note.instance,
              cascade: note.cascade,
            },
          };
        default:
          // 'finalized'
          return {
            detailType: 'Session Finalized',
            detail: {
              id: eventKey('finalized', sessionId),
              sessionId,
              workflow: change.workflow,
            },
          };
      }
    });
  }
  const { record, oldStatus } = change;
  if (record.status === oldStatus) return [];
  if (record.status === 'failed') {
    return [
      {
        detailType: 'Instance Failed',
        detail: {
          id: eventKey('failed', sessionId, record.name, record.updatedAt),
          sessionId,
          instance: record.name,
          error: record.error ?? { type: 'Error', message: 'failed' },
        },
      },
    ];
  }
  // A handler's outcome (running → finished). An instance settled by hand cascades through
  // the evaluator, which notes it.
  if (record.status === 'finished' && oldStatus === 'running') {
    const engine = await deps.registry.engineFor(
      record.workflow,
      record.workflowVersion,
      deps.store,
    );
    if (cascades(engine.workflow, record.task)) return [];
    const eventId = cascadeEventId(record.name);
    return [
      {
        detailType: 'Trigger Fired',
        detail: {
          id: eventKey('fired', sessionId, eventId),
          sessionId,
          workflow: record.workflow,
          trigger: record.task,
          eventId,
          scheduled: [],
        },
      },
    ];
  }
  return [];
}

/**
 * Calls the hook of each event, in order, with its payload (the detail without its `id`).
 *
 * @example
 * await callHooks({ afterFire: (e) => seen.push(e.trigger) }, events);
 */
export async function callHooks(
  hooks: LifecycleHooks,
  events: readonly LifecycleEvent[],
): Promise<void> {
  for (const event of events) {
    const { id: _id, ...payload } = event.detail;
    switch (event.detailType) {
      case 'Trigger Fired':
        await hooks.afterFire?.(payload as TriggerFiredDetail);
        break;
      case 'Instance Replayed':
        await hooks.afterReplay?.(payload as InstanceReplayedDetail);
        break;
      case 'Instance Skipped':
        await hooks.afterSkip?.(payload as InstanceSkippedDetail);
        break;
      case 'Instance Failed':
        await hooks.afterFail?.(payload as InstanceFailedDetail);
        break;
      case 'Session Finalized':
        await hooks.afterFinalize?.(payload as SessionFinalizedDetail);
        break;
    }
  }
}
