/**
 * The ingest flows: a fired trigger, a replay or skip request, and the manager API's requests
 * (configuration, instance metadata, resolved logs, status), validated and stored as events of
 * their session, for the evaluator to apply.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { internalEventId } from '../engine/events.ts';
import { findUnstarted } from '../engine/state.ts';
import { configureTasks } from '../engine/workflow.ts';
import {
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  ValidationError,
  WorkflowError,
} from '../errors.ts';
import type { ControlRequest, EventSource, InstanceRecord, SessionStore } from '../store/port.ts';
import type { TaskConfig, Workflow } from '../types.ts';
import type { Clock } from './clock.ts';
import type { FaultHook } from './faults.ts';
import type { WorkflowRegistry } from './registry.ts';
import {
  type ConfigureInput,
  configureInputSchema,
  type FireInput,
  fireInputSchema,
  type MetadataInput,
  metadataInputSchema,
  parseInput,
  type ReplayInput,
  type ResolveLogsInput,
  replayInputSchema,
  resolveLogsInputSchema,
  type SkipInput,
  type StatusInput,
  skipInputSchema,
  statusInputSchema,
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

/**
 * The stored record of an instance an admin request acts on. Refuses (404) one the session
 * does not have, and (409) an unstarted one, which has no record yet, unless `unstarted`
 * (then undefined).
 */
async function requireRecord(
  deps: IngestDeps,
  sessionId: string,
  instance: string,
  opts: { unstarted?: boolean } = {},
): Promise<InstanceRecord | undefined> {
  const record = await deps.store.getInstance(sessionId, instance);
  if (record) return record;
  const head = await deps.store.getHead(sessionId);
  if (head && findUnstarted(head.state, instance)) {
    if (opts.unstarted) return undefined;
    throw new InstanceStateError(
      `instance '${instance}' is unstarted: it has no record to change until it is scheduled`,
      { instance, actualStatus: 'unstarted' },
    );
  }
  throw new NotFoundError(`instance '${instance}' does not exist in session '${sessionId}'`);
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

/** Stores a request of the manager API; the evaluator applies it (and checks it again). */
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

/**
 * Merges metadata into an instance's (top level: a key given replaces that key), whatever its
 * status (an unstarted instance keeps it in the session until its record is written).
 *
 * @example
 * await updateInstanceMetadata(deps, { sessionId: 's1', instance: 't_alpha#0', metadata: { reviewedBy: 'ops' } });
 */
export async function updateInstanceMetadata(
  deps: IngestDeps,
  input: MetadataInput,
): Promise<void> {
  const req = parseInput(metadataInputSchema, input);
  await requireRecord(deps, req.sessionId, req.instance, { unstarted: true });
  await putControlEvent(deps, req.sessionId, req.eventId, {
    kind: 'metadata',
    instance: req.instance,
    metadata: req.metadata,
  });
}

/**
 * Marks an instance's logs as dealt with (`logsResolved: true`): it leaves the session's
 * `unresolvedLogs`.
 *
 * @example
 * await resolveInstanceLogs(deps, { sessionId: 's1', instance: 't_score#0' });
 */
export async function resolveInstanceLogs(
  deps: IngestDeps,
  input: ResolveLogsInput,
): Promise<void> {
  const req = parseInput(resolveLogsInputSchema, input);
  await requireRecord(deps, req.sessionId, req.instance);
  await putControlEvent(deps, req.sessionId, req.eventId, {
    kind: 'resolve-logs',
    instance: req.instance,
  });
}

/**
 * Sets an instance's status by hand (finished, failed, abandoned, replayed or skipped), merging
 * `metadata`; with `cascade` (only to `finished`) the task's name fires with `cascadeKwargs`.
 * Refused while the instance is scheduled or running: a worker holds it or may take it.
 *
 * @example
 * await setInstanceStatus(deps, { sessionId: 's1', instance: 't_alpha#0', status: 'finished', cascade: true, cascadeKwargs: { score: 1 } });
 */
export async function setInstanceStatus(deps: IngestDeps, input: StatusInput): Promise<void> {
  const req = parseInput(statusInputSchema, input);
  const record = (await requireRecord(deps, req.sessionId, req.instance)) as InstanceRecord;
  if (record.status === 'scheduled' || record.status === 'running') {
    throw new InstanceStateError(
      `instance '${req.instance}' is ${record.status}: its status cannot be set while a worker holds or may take it`,
      { instance: req.instance, actualStatus: record.status },
    );
  }
  await putControlEvent(deps, req.sessionId, req.eventId, {
    kind: 'status',
    instance: req.instance,
    status: req.status,
    ...(req.metadata !== undefined ? { metadata: req.metadata } : {}),
    cascade: req.cascade ?? false,
    ...(req.cascadeKwargs !== undefined ? { cascadeKwargs: req.cascadeKwargs } : {}),
  });
}

/**
 * Checks that the configured tasks run handlers (and runners) the deployment has: those its
 * workflows run, each of which has a queue. Throws `WorkflowError` naming the task.
 */
function checkConfigured(tasks: Record<string, TaskConfig>, registry: WorkflowRegistry): void {
  const handlers = registry.handlers();
  const queues = registry.queues();
  // `configureTasks` has validated them: `run` and `using` are strings.
  for (const [name, task] of Object.entries(tasks)) {
    if (!handlers.has(task.run)) {
      throw new WorkflowError(
        `task '${name}' runs '${task.run}', but this deployment has no task handler of that name (known: ${[...handlers].sort().join(', ')})`,
        { task: name },
      );
    }
    if (task.using !== undefined && !queues.has(task.using)) {
      throw new WorkflowError(
        `task '${name}' uses runner '${task.using}', which this deployment does not have (known: ${[...queues].sort().join(', ')})`,
        { task: name },
      );
    }
  }
}

/** The answer to a configuration. */
export interface ConfigureResult {
  sessionId: string;
  /** The workflow version the session runs under once the configuration is applied. */
  workflowVersion: string;
}

/**
 * Configures one session: `tasks` merge by name into the workflow it runs under (a new session
 * starts from the deployed workflow `workflow`, else the default; a task of the same name is
 * replaced whole). The result is validated as a deployed workflow is, its handlers must be ones
 * the deployment has, and it is stored as a workflow version. The configuration is an event of
 * the session: applied in accept order, it takes effect from the next applied event; triggers
 * fired before it are not applied again.
 *
 * @example
 * const { workflowVersion } = await configureSession(deps, {
 *   sessionId: 's1',
 *   tasks: { t_bonus: { after: ['step1', 'bonusPage'], run: 'score' } },
 * });
 */
export async function configureSession(
  deps: IngestDeps,
  input: ConfigureInput,
): Promise<ConfigureResult> {
  const req = parseInput(configureInputSchema, input);
  const { registry, store } = deps;
  const head = await store.getHead(req.sessionId);
  let base: Workflow;
  if (head) {
    if (req.workflow !== undefined && req.workflow !== head.state.workflow) {
      throw new ValidationError(
        `'workflow' is '${req.workflow}', but session '${req.sessionId}' runs workflow '${head.state.workflow}'`,
      );
    }
    base = (await registry.engineFor(head.state.workflow, head.state.version, store)).workflow
      .definition;
  } else {
    if (req.workflow !== undefined && !registry.has(req.workflow)) {
      throw new NotFoundError(`unknown workflow '${req.workflow}'`);
    }
    base = registry.workflow(req.workflow ?? registry.defaultWorkflow).definition;
  }
  let merged: Workflow;
  try {
    merged = configureTasks(base, req.tasks);
    checkConfigured(req.tasks, registry);
  } catch (err) {
    // Bad input like any other: a 400 naming the field, and the task in the message.
    if (err instanceof WorkflowError) {
      throw new ValidationError(`'tasks' ${err.message}`, { cause: err });
    }
    throw err;
  }
  if (!store.putWorkflowVersion) {
    throw new NotAvailableError(
      'this store keeps no workflow versions: sessions cannot be configured',
    );
  }
  const { version } = await store.putWorkflowVersion(merged);
  const eventId = req.eventId ?? internalEventId('configure', randomUUID());
  await store.putEvent({
    sessionId: req.sessionId,
    eventId,
    kind: 'configure',
    tasks: req.tasks,
    source: 'control',
    ...(req.workflow !== undefined ? { workflow: req.workflow } : {}),
    firedAt: deps.clock.now().toISOString(),
  });
  deps.faults?.('ingest.afterEventWrite', { sessionId: req.sessionId, eventId });
  return { sessionId: req.sessionId, workflowVersion: version };
}
