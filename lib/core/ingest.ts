/**
 * The ingest flows: a fired trigger, a replay request and a skip request, validated and stored
 * as events of their session, for the evaluator to apply.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { internalEventId } from '../engine/events.ts';
import { findUnstarted } from '../engine/state.ts';
import { InstanceStateError, NotFoundError } from '../errors.ts';
import type { ControlRequest, EventSource, SessionStore } from '../store/port.ts';
import type { Clock } from './clock.ts';
import type { FaultHook } from './faults.ts';
import type { WorkflowRegistry } from './registry.ts';
import {
  type FireInput,
  fireInputSchema,
  parseInput,
  type ReplayInput,
  replayInputSchema,
  type SkipInput,
  skipInputSchema,
} from './validation.ts';

/** What the ingest flows need. */
export interface IngestDeps {
  store: SessionStore;
  registry: WorkflowRegistry;
  clock: Clock;
  /** Test-only crash points. */
  faults?: FaultHook;
}

/** The answer to a fire. */
export interface FireResult {
  sessionId: string;
  eventId: string;
  duplicate: boolean;
}

/**
 * Validates and stores one fired trigger. Resolves once the event is accepted (its order in the
 * session is fixed), not when tasks finish. The same `eventId` twice is applied once; the second
 * answer says `duplicate: true`.
 *
 * @example
 * await fireEvent(deps, { sessionId: 's1', trigger: 'step1', kwargs: { page: 1 } });
 */
export async function fireEvent(
  deps: IngestDeps,
  input: FireInput,
  internal?: { source: EventSource; eventId: string },
): Promise<FireResult> {
  const fire = parseInput(fireInputSchema, input);
  if (fire.workflow !== undefined && !deps.registry.has(fire.workflow)) {
    throw new NotFoundError(`unknown workflow '${fire.workflow}'`);
  }
  const source = internal?.source ?? 'api';
  const eventId = internal?.eventId ?? fire.eventId ?? randomUUID();
  const { duplicate } = await deps.store.putEvent({
    sessionId: fire.sessionId,
    eventId,
    kind: 'fire',
    trigger: fire.trigger,
    kwargs: fire.kwargs ?? {},
    source,
    ...(fire.workflow !== undefined ? { workflow: fire.workflow } : {}),
    firedAt: deps.clock.now().toISOString(),
  });
  deps.faults?.('ingest.afterEventWrite', { sessionId: fire.sessionId, eventId });
  return { sessionId: fire.sessionId, eventId, duplicate };
}

async function requireFailed(
  deps: IngestDeps,
  sessionId: string,
  instance: string,
  operation: 'replay' | 'skip',
): Promise<void> {
  const record = await deps.store.getInstance(sessionId, instance);
  if (record) {
    if (record.status !== 'failed')
      throw InstanceStateError.notFailed(instance, record.status, operation);
    return;
  }
  const head = await deps.store.getHead(sessionId);
  if (head && findUnstarted(head.state, instance))
    throw InstanceStateError.notFailed(instance, 'unstarted', operation);
  throw new NotFoundError(`instance '${instance}' does not exist in session '${sessionId}'`);
}

/** Stores a replay or skip request; the evaluator applies it (and checks it again). */
async function putControlEvent(
  deps: IngestDeps,
  sessionId: string,
  eventId: string | undefined,
  request: ControlRequest,
): Promise<void> {
  const id = eventId ?? internalEventId(request.kind, randomUUID());
  await deps.store.putEvent({
    ...request,
    sessionId,
    eventId: id,
    source: 'control',
    firedAt: deps.clock.now().toISOString(),
  });
  deps.faults?.('ingest.afterEventWrite', { sessionId, eventId: id });
}

/**
 * Asks for a failed instance to be replayed: it becomes `replayed` and a clone runs at once,
 * with `kwargs` replacing all its kwargs when given. Refuses an instance that has not failed.
 *
 * @example
 * await requestReplay(deps, { sessionId: 's1', instance: 't_alpha#0' });
 */
export async function requestReplay(deps: IngestDeps, input: ReplayInput): Promise<void> {
  const req = parseInput(replayInputSchema, input);
  await requireFailed(deps, req.sessionId, req.instance, 'replay');
  await putControlEvent(deps, req.sessionId, req.eventId, {
    kind: 'replay',
    instance: req.instance,
    ...(req.kwargs !== undefined ? { kwargs: req.kwargs } : {}),
  });
}

/**
 * Asks for a failed instance to be skipped, firing its task name with `result` when `cascade`
 * is set. Refuses an instance that has not failed.
 *
 * @example
 * await requestSkip(deps, { sessionId: 's1', instance: 't_alpha#0', cascade: true, result: { score: 1 } });
 */
export async function requestSkip(deps: IngestDeps, input: SkipInput): Promise<void> {
  const req = parseInput(skipInputSchema, input);
  await requireFailed(deps, req.sessionId, req.instance, 'skip');
  await putControlEvent(deps, req.sessionId, req.eventId, {
    kind: 'skip',
    instance: req.instance,
    cascade: req.cascade ?? false,
    ...(req.result !== undefined ? { result: req.result } : {}),
  });
}
