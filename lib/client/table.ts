/**
 * The table mode of `TriggersClient`: the ingest flows the HTTP API runs (`fireEvent`,
 * `readSession`, `requestReplay`, `requestSkip`, `configureSession`, `updateInstanceMetadata`,
 * `resolveInstanceLogs`, `setInstanceStatus`), called in-process over a `DynamoStore`.
 * May import: base, engine, store, core; the AWS SDK and Node.js.
 *
 * @module
 */
import { z } from 'zod';
import { systemClock } from '../core/clock.ts';
import { MAX_BODY_BYTES } from '../core/http.ts';
import {
  configureSession,
  fireEvent,
  type IngestDeps,
  requestReplay,
  requestSkip,
  resolveInstanceLogs,
  setInstanceStatus,
  updateInstanceMetadata,
} from '../core/ingest.ts';
import { WorkflowRegistry } from '../core/registry.ts';
import { readStale } from '../core/stale.ts';
import { parseInput, sessionIdSchema } from '../core/validation.ts';
import { describeWorkflows, readEvents, readSession } from '../core/view.ts';
import { NotAvailableError, ValidationError } from '../errors.ts';
import { DynamoStore } from '../store/dynamo-store.ts';
import type {
  InstanceStatus,
  Kwargs,
  SessionEvent,
  SessionView,
  StaleSessions,
  TaskConfig,
  WorkflowsView,
} from '../types.ts';
import type {
  ClientBackend,
  ConfigureOptions,
  ConfigureResult,
  FireOptions,
  SetStatusOptions,
  SkipOptions,
  StaleOptions,
  TableClientOptions,
} from './client.ts';

const sessionSchema = z.strictObject({ sessionId: sessionIdSchema });

const NO_WORKFLOWS =
  'this TriggersClient was given no workflows: pass { tableName, workflows } to name a workflow in fire() or to read a session';

const NO_CONFIGURATION =
  "configureSession needs the deployment's workflows: pass { tableName, workflows } with the workflows deployed, or use { apiUrl }";

/**
 * A registry that refuses every question with a clear error. The flows consult the registry
 * only to check a named workflow and to read a session; plain fires, replays and skips never do.
 */
function registryWithoutWorkflows(): WorkflowRegistry {
  const refuse = (): never => {
    throw new NotAvailableError(NO_WORKFLOWS);
  };
  // WorkflowRegistry has private state, so nothing but a cast stands in for one.
  return {
    get defaultWorkflow(): never {
      return refuse();
    },
    has: refuse,
    engine: refuse,
    engineFor: refuse,
    version: refuse,
    workflow: refuse,
    all: refuse,
  } as unknown as WorkflowRegistry;
}

/** Refuses what the HTTP API would refuse with 413: a body over `MAX_BODY_BYTES`. */
function checkSize(body: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(body), 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    throw new ValidationError(`request body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES}`);
  }
}

/**
 * `TriggersClient`'s table backend: the HTTP API's ingest and view flows, called in-process over
 * a `DynamoStore`, so validation, errors and idempotency are the API's.
 *
 * @example
 * const backend = new TableBackend({ tableName: 'triggers-sessions', workflows: [survey] });
 * await backend.fire('s1', 'step1', undefined, { eventId: 'e1' });
 */
export class TableBackend implements ClientBackend {
  private readonly deps: IngestDeps;
  private readonly hasWorkflows: boolean;

  constructor(opts: TableClientOptions) {
    if (opts.workflows === undefined && opts.defaultWorkflow !== undefined) {
      throw new ValidationError('defaultWorkflow needs workflows: pass { workflows } as well');
    }
    const registry =
      opts.workflows === undefined
        ? registryWithoutWorkflows()
        : new WorkflowRegistry(opts.workflows, opts.defaultWorkflow);
    const store = new DynamoStore({
      tableName: opts.tableName,
      ...(opts.staleIndex === true ? { staleIndex: true } : {}),
      ...(opts.client !== undefined
        ? { client: opts.client }
        : {
            clientConfig: {
              ...(opts.region !== undefined ? { region: opts.region } : {}),
              ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
              ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
            },
          }),
    });
    this.deps = { store, registry, clock: systemClock };
    this.hasWorkflows = opts.workflows !== undefined;
  }

  async fire(
    sessionId: string,
    trigger: string,
    kwargs: Kwargs | undefined,
    opts: FireOptions,
  ): Promise<{ eventId: string; duplicate: boolean }> {
    const body = { trigger, ...(kwargs !== undefined ? { kwargs } : {}), ...opts };
    checkSize(body);
    const { eventId, duplicate } = await fireEvent(this.deps, { ...body, sessionId });
    return { eventId, duplicate };
  }

  async getSession(sessionId: string): Promise<SessionView | undefined> {
    const input = parseInput(sessionSchema, { sessionId });
    return readSession(this.deps, input.sessionId);
  }

  async getEvents(sessionId: string): Promise<SessionEvent[] | undefined> {
    const input = parseInput(sessionSchema, { sessionId });
    return (await readEvents(this.deps, input.sessionId))?.events;
  }

  async getWorkflows(): Promise<WorkflowsView> {
    return describeWorkflows(this.deps.registry);
  }

  async getStale(opts: StaleOptions): Promise<StaleSessions> {
    // Without workflows the sessions are still listed, only without what each instance waits for.
    const { store, clock } = this.deps;
    return readStale(this.hasWorkflows ? this.deps : { store, clock }, opts);
  }

  async replayFailed(
    sessionId: string,
    instance: string,
    replacementKwargs: Record<string, Kwargs> | undefined,
  ): Promise<void> {
    const body = replacementKwargs !== undefined ? { kwargs: replacementKwargs } : {};
    checkSize(body);
    await requestReplay(this.deps, { ...body, sessionId, instance });
  }

  async skipFailed(sessionId: string, instance: string, opts: SkipOptions): Promise<void> {
    checkSize(opts);
    await requestSkip(this.deps, { ...opts, sessionId, instance });
  }

  async configureSession(
    sessionId: string,
    tasks: Record<string, TaskConfig>,
    opts: ConfigureOptions,
  ): Promise<ConfigureResult> {
    if (!this.hasWorkflows) throw new NotAvailableError(NO_CONFIGURATION);
    const body = { tasks, ...(opts.workflow !== undefined ? { workflow: opts.workflow } : {}) };
    checkSize(body);
    const { workflowVersion } = await configureSession(this.deps, { ...body, sessionId });
    return { sessionId, workflowVersion };
  }

  async updateInstanceMetadata(
    sessionId: string,
    instance: string,
    metadata: Kwargs,
  ): Promise<void> {
    checkSize({ metadata });
    await updateInstanceMetadata(this.deps, { sessionId, instance, metadata });
  }

  async resolveInstanceLogs(sessionId: string, instance: string): Promise<void> {
    await resolveInstanceLogs(this.deps, { sessionId, instance });
  }

  async setInstanceStatus(
    sessionId: string,
    instance: string,
    status: InstanceStatus,
    opts: SetStatusOptions,
  ): Promise<void> {
    const body = { status, ...opts };
    checkSize(body);
    await setInstanceStatus(this.deps, { ...body, sessionId, instance });
  }
}
