/**
 * `TriggersClient`: fires triggers into sessions, reads them, replays and skips failed instances,
 * and administers them as the original's manager does (per-session configuration, instance
 * metadata, resolved logs, a status set by hand), over the HTTP API (SigV4-signed when there are
 * credentials) or straight on the session table.
 * May import: base, engine, store, core; the AWS SDK and Node.js.
 *
 * @module
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HTTP_STATUS, withHttpStatus } from '../core/http.ts';
import {
  type ErrorCode,
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  TriggersError,
  ValidationError,
} from '../errors.ts';
import type {
  Duration,
  InstanceStatus,
  Kwargs,
  SessionEvent,
  SessionEvents,
  SessionView,
  StaleSessions,
  TaskConfig,
  Workflow,
  WorkflowsView,
} from '../types.ts';
import { ApiRequestSigner, type AwsCredentials, type AwsCredentialsProvider } from './sigv4.ts';
import { TableBackend } from './table.ts';

/** Options of a `TriggersClient` that talks to the HTTP API. */
export interface ApiClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:3000`. */
  apiUrl: string;
  /** The `fetch` to use. @default - the global fetch */
  fetch?: typeof fetch;
  /**
   * The region requests are signed for (SigV4, service `execute-api`).
   * @default - the region of an `*.execute-api.<region>.amazonaws.com` URL, else `AWS_REGION`
   */
  region?: string;
  /**
   * Credentials to sign requests with, or a provider of them. When the provider finds none,
   * requests go unsigned (the local stack checks no signature).
   * @default - the AWS SDK's default provider chain
   */
  credentials?: AwsCredentials | AwsCredentialsProvider;
}

/** Options of a `TriggersClient` that writes to the table directly. */
export interface TableClientOptions {
  tableName: string;
  /** @default - the AWS SDK's default (`AWS_REGION`, the shared config) */
  region?: string;
  /** A DynamoDB endpoint other than AWS's (DynamoDB Local, LocalStack). */
  endpoint?: string;
  /**
   * The deployment's workflows. Needed to name a `workflow` in `fire`, to read a session and to
   * configure one; plain fires, replays, skips and instance administration work without them.
   * @default - none
   */
  workflows?: Workflow[];
  /** The workflow new sessions get. @default - the first of `workflows` */
  defaultWorkflow?: string;
  /** Credentials, or a provider of them. @default - the AWS SDK's default provider chain */
  credentials?: AwsCredentials | AwsCredentialsProvider;
  /** A DynamoDB client to use instead of creating one from `region`, `endpoint`, `credentials`. */
  client?: DynamoDBClient;
  /**
   * The table has the stale index (the construct's `staleSessions` is on): needed by
   * `getStale`. Fires never write the index, so this changes nothing else.
   * @default false
   */
  staleIndex?: boolean;
}

/** Options of `TriggersClient.fire`. */
export interface FireOptions {
  /** Makes the fire idempotent: the same id twice is applied once. */
  eventId?: string;
  /** The workflow of the session, when this event creates it. */
  workflow?: string;
}

/** Options of `TriggersClient.skipFailed`. */
export interface SkipOptions {
  /** Fire the task's name as if it had finished. @default false */
  cascade?: boolean;
  /** The result the cascade carries. */
  result?: Kwargs;
}

/** Options of `TriggersClient.configureSession`. */
export interface ConfigureOptions {
  /**
   * The deployed workflow a session this call creates starts from.
   * @default - the deployment's default workflow
   */
  workflow?: string;
}

/** What `TriggersClient.configureSession` answers. */
export interface ConfigureResult {
  sessionId: string;
  /** The content hash of the session's workflow as configured: the version it now runs under. */
  workflowVersion: string;
}

/** Options of `TriggersClient.setInstanceStatus`. */
export interface SetStatusOptions {
  /** Merged (top level) into the instance's metadata. */
  metadata?: Kwargs;
  /** Fire the task's name as if it had finished; only with status `finished`. @default false */
  cascade?: boolean;
  /** The result the cascade carries. @default {} */
  cascadeKwargs?: Kwargs;
}

/** Options of `TriggersClient.getStale`. */
export interface StaleOptions {
  /** How long an unstarted instance must have waited. @default '24h' */
  olderThan?: Duration;
  /** The most sessions to return, 1 to 1000. @default 100 */
  limit?: number;
}

/** What a `TriggersClient` talks to: the HTTP API or the table. */
export interface ClientBackend {
  fire(
    sessionId: string,
    trigger: string,
    kwargs: Kwargs | undefined,
    opts: FireOptions,
  ): Promise<{ eventId: string; duplicate: boolean }>;
  getSession(sessionId: string): Promise<SessionView | undefined>;
  getEvents(sessionId: string): Promise<SessionEvent[] | undefined>;
  getWorkflows(): Promise<WorkflowsView>;
  replayFailed(
    sessionId: string,
    instance: string,
    replacementKwargs: Record<string, Kwargs> | undefined,
  ): Promise<void>;
  skipFailed(sessionId: string, instance: string, opts: SkipOptions): Promise<void>;
  getStale(opts: StaleOptions): Promise<StaleSessions>;
  configureSession(
    sessionId: string,
    tasks: Record<string, TaskConfig>,
    opts: ConfigureOptions,
  ): Promise<ConfigureResult>;
  updateInstanceMetadata(sessionId: string, instance: string, metadata: Kwargs): Promise<void>;
  resolveInstanceLogs(sessionId: string, instance: string): Promise<void>;
  setInstanceStatus(
    sessionId: string,
    instance: string,
    status: InstanceStatus,
    opts: SetStatusOptions,
  ): Promise<void>;
}

/** The error an HTTP answer stands for, carrying the answer's status. */
function errorFor(
  status: number,
  code: string,
  message: string,
  instance: string | undefined,
): TriggersError {
  const err = typedError(status, code, message, instance);
  err.status = status;
  return err;
}

/** The class an HTTP answer's status and code stand for. */
function typedError(
  status: number,
  code: string,
  message: string,
  instance: string | undefined,
): TriggersError {
  if (status === 404) return new NotFoundError(message);
  if (status === 409 && code === 'INSTANCE_NOT_FAILED' && instance !== undefined) {
    return new InstanceStateError(message, { instance });
  }
  if (status === 400 || status === 413) return new ValidationError(message);
  if (status === 501 && code === 'NOT_AVAILABLE') return new NotAvailableError(message);
  const known = Object.hasOwn(HTTP_STATUS, code);
  return new TriggersError(message, { code: known ? (code as ErrorCode) : 'HTTP_ERROR' });
}

/**
 * The table backend with the API's statuses on its errors: a `TriggersClient` caller reads the
 * same `status` whichever way the client reaches the sessions.
 */
function answeringLikeTheApi(backend: ClientBackend): ClientBackend {
  const statused = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (err) {
      throw err instanceof TriggersError ? withHttpStatus(err) : err;
    }
  };
  return {
    fire: (...args) => statused(backend.fire(...args)),
    getSession: (...args) => statused(backend.getSession(...args)),
    getEvents: (...args) => statused(backend.getEvents(...args)),
    getWorkflows: () => statused(backend.getWorkflows()),
    replayFailed: (...args) => statused(backend.replayFailed(...args)),
    skipFailed: (...args) => statused(backend.skipFailed(...args)),
    getStale: (...args) => statused(backend.getStale(...args)),
    configureSession: (...args) => statused(backend.configureSession(...args)),
    updateInstanceMetadata: (...args) => statused(backend.updateInstanceMetadata(...args)),
    resolveInstanceLogs: (...args) => statused(backend.resolveInstanceLogs(...args)),
    setInstanceStatus: (...args) => statused(backend.setInstanceStatus(...args)),
  };
}

/** The HTTP API backend: JSON over `fetch`, signed with SigV4 when there are credentials. */
class HttpBackend implements ClientBackend {
  private readonly apiUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly signer: ApiRequestSigner;

  constructor(opts: ApiClientOptions) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.signer = new ApiRequestSigner({
      apiUrl: this.apiUrl,
      ...(opts.region !== undefined ? { region: opts.region } : {}),
      ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    });
  }

  private async request(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body?: unknown,
    instance?: string,
  ): Promise<{ status: number; json: unknown }> {
    const url = `${this.apiUrl}${path}`;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = await this.signer.headersFor({
      method,
      url,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
      ...(text !== undefined ? { body: text } : {}),
    });
    const res = await this.fetchFn(url, {
      method,
      headers,
      ...(text !== undefined ? { body: text } : {}),
    });
    const answer = await res.text();
    let json: unknown;
    try {
      json = answer ? JSON.parse(answer) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status >= 400) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      const unsigned = this.signer.unsignedReason;
      const message =
        err?.message ??
        (json as { message?: string } | undefined)?.message ??
        `${method} ${path} answered ${res.status}`;
      throw errorFor(
        res.status,
        err?.code ?? 'HTTP_ERROR',
        res.status === 403 && unsigned !== undefined
          ? `${message} (the request was not signed: ${unsigned})`
          : message,
        instance,
      );
    }
    return { status: res.status, json };
  }

  async fire(
    sessionId: string,
    trigger: string,
    kwargs: Kwargs | undefined,
    opts: FireOptions,
  ): Promise<{ eventId: string; duplicate: boolean }> {
    const { json } = await this.request(
      'POST',
      `/sessions/${encodeURIComponent(sessionId)}/events`,
      { trigger, ...(kwargs !== undefined ? { kwargs } : {}), ...opts },
    );
    const out = json as { eventId: string; duplicate: boolean };
    return { eventId: out.eventId, duplicate: out.duplicate };
  }

  async getSession(sessionId: string): Promise<SessionView | undefined> {
    try {
      const { json } = await this.request('GET', `/sessions/${encodeURIComponent(sessionId)}`);
      return json as SessionView;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async getEvents(sessionId: string): Promise<SessionEvent[] | undefined> {
    try {
      const { json } = await this.request(
        'GET',
        `/sessions/${encodeURIComponent(sessionId)}/events`,
      );
      return (json as SessionEvents).events;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async getWorkflows(): Promise<WorkflowsView> {
    return (await this.request('GET', '/workflows')).json as WorkflowsView;
  }

  async getStale(opts: StaleOptions): Promise<StaleSessions> {
    const query = new URLSearchParams();
    if (opts.olderThan !== undefined) query.set('olderThan', String(opts.olderThan));
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    const text = query.toString();
    return (await this.request('GET', `/stale${text ? `?${text}` : ''}`)).json as StaleSessions;
  }

  async replayFailed(
    sessionId: string,
    instance: string,
    replacementKwargs: Record<string, Kwargs> | undefined,
  ): Promise<void> {
    await this.request(
      'POST',
      `${instancePath(sessionId, instance)}/replay`,
      replacementKwargs !== undefined ? { kwargs: replacementKwargs } : {},
      instance,
    );
  }

  async skipFailed(sessionId: string, instance: string, opts: SkipOptions): Promise<void> {
    await this.request('POST', `${instancePath(sessionId, instance)}/skip`, opts, instance);
  }

  async configureSession(
    sessionId: string,
    tasks: Record<string, TaskConfig>,
    opts: ConfigureOptions,
  ): Promise<ConfigureResult> {
    const { json } = await this.request(
      'POST',
      `/sessions/${encodeURIComponent(sessionId)}/configuration`,
      { tasks, ...(opts.workflow !== undefined ? { workflow: opts.workflow } : {}) },
    );
    const out = json as ConfigureResult;
    return { sessionId: out.sessionId, workflowVersion: out.workflowVersion };
  }

  async updateInstanceMetadata(
    sessionId: string,
    instance: string,
    metadata: Kwargs,
  ): Promise<void> {
    await this.request(
      'PATCH',
      `${instancePath(sessionId, instance)}/metadata`,
      { metadata },
      instance,
    );
  }

  async resolveInstanceLogs(sessionId: string, instance: string): Promise<void> {
    await this.request(
      'POST',
      `${instancePath(sessionId, instance)}/resolve-logs`,
      undefined,
      instance,
    );
  }

  async setInstanceStatus(
    sessionId: string,
    instance: string,
    status: InstanceStatus,
    opts: SetStatusOptions,
  ): Promise<void> {
    await this.request(
      'POST',
      `${instancePath(sessionId, instance)}/status`,
      { status, ...opts },
      instance,
    );
  }
}

/** The path of an instance, both names percent-encoded (`#` included). */
function instancePath(sessionId: string, instance: string): string {
  return `/sessions/${encodeURIComponent(sessionId)}/instances/${encodeURIComponent(instance)}`;
}

/**
 * Fires triggers into sessions and inspects them, over the HTTP API or straight on the session
 * table. Both modes validate the same way and are idempotent by `eventId` the same way.
 *
 * Over the API, requests are signed with SigV4 (service `execute-api`) when the default
 * credential chain finds credentials, and go unsigned when it finds none (the local stack).
 * On the table, `workflows` are needed to name a workflow and to read sessions.
 *
 * @example
 * const client = new TriggersClient({ apiUrl: 'http://127.0.0.1:3000' });
 * await client.fire('survey-42', 'step1', { answers: 3 }, { eventId: 'step1-survey-42' });
 * const view = await client.getSession('survey-42');
 *
 * @example
 * const direct = new TriggersClient({ tableName: 'triggers-sessions', workflows: [survey] });
 * await direct.fire('survey-42', 'step1');
 */
export class TriggersClient {
  private readonly backend: ClientBackend;

  constructor(opts: ApiClientOptions | TableClientOptions) {
    if ('apiUrl' in opts) {
      this.backend = new HttpBackend(opts);
    } else if ('tableName' in opts) {
      this.backend = answeringLikeTheApi(new TableBackend(opts));
    } else {
      throw new ValidationError('TriggersClient needs { apiUrl } or { tableName }');
    }
  }

  /** Fires a trigger into a session; resolves once the event is accepted. */
  fire(
    sessionId: string,
    trigger: string,
    kwargs?: Kwargs,
    opts: FireOptions = {},
  ): Promise<{ eventId: string; duplicate: boolean }> {
    return this.backend.fire(sessionId, trigger, kwargs, opts);
  }

  /** The session's instances and status; undefined when it does not exist. */
  getSession(sessionId: string): Promise<SessionView | undefined> {
    return this.backend.getSession(sessionId);
  }

  /** The session's timeline: its events in accept order; undefined when it has none. */
  getEvents(sessionId: string): Promise<SessionEvent[] | undefined> {
    return this.backend.getEvents(sessionId);
  }

  /** The workflows served, each task with its directives, and the default workflow. */
  getWorkflows(): Promise<WorkflowsView> {
    return this.backend.getWorkflows();
  }

  /**
   * Sessions whose unstarted instances have waited longer than `olderThan` (default 24 hours),
   * oldest first, each with those instances and the triggers they still wait for. Needs a
   * deployment with `staleSessions` on (`NotAvailableError` otherwise); in table mode,
   * `staleIndex: true`.
   *
   * @example
   * const { sessions, truncated } = await client.getStale({ olderThan: '24h', limit: 50 });
   */
  getStale(opts: StaleOptions = {}): Promise<StaleSessions> {
    return this.backend.getStale(opts);
  }

  /** Replays a failed instance, with replacement kwargs when given. */
  replayFailed(
    sessionId: string,
    instance: string,
    replacementKwargs?: Record<string, Kwargs>,
  ): Promise<void> {
    return this.backend.replayFailed(sessionId, instance, replacementKwargs);
  }

  /** Skips a failed instance, cascading with `result` when `cascade` is set. */
  skipFailed(sessionId: string, instance: string, opts: SkipOptions = {}): Promise<void> {
    return this.backend.skipFailed(sessionId, instance, opts);
  }

  /**
   * Gives a session its own task configuration, merged by task name into the workflow it runs
   * (a session this call creates starts from `opts.workflow`, else the default workflow); a task
   * of the same name is replaced whole. Validated as a deployed workflow is (`ValidationError`
   * naming an unknown handler or a task that can never run), stored as a pinned version, and in
   * force from the session's next applied event. Schedules nothing by itself. In table mode it
   * needs the deployment's `workflows` (`NotAvailableError` without them).
   *
   * @example
   * const { workflowVersion } = await client.configureSession('survey-42', {
   *   t_extraStep: { after: ['step1'], run: 'importSubject' },
   * });
   */
  configureSession(
    sessionId: string,
    tasks: Record<string, TaskConfig>,
    opts: ConfigureOptions = {},
  ): Promise<ConfigureResult> {
    return this.backend.configureSession(sessionId, tasks, opts);
  }

  /**
   * Merges `metadata` (top level) into an instance's metadata, whatever its status. Goes through
   * the session's event order: resolves once the request is accepted, not yet applied.
   * `NotFoundError` for an unknown session or instance, `ValidationError` for metadata that is
   * not a JSON object or holds a prototype key.
   *
   * @example
   * await client.updateInstanceMetadata('survey-42', 't_score#0', { reviewedBy: 'ops' });
   */
  updateInstanceMetadata(sessionId: string, instance: string, metadata: Kwargs): Promise<void> {
    return this.backend.updateInstanceMetadata(sessionId, instance, metadata);
  }

  /**
   * Marks an instance's logs as dealt with (`logsResolved: true`): it leaves the session's
   * `unresolvedLogs`. Resolves once the request is accepted. `NotFoundError` for an unknown
   * session or instance.
   *
   * @example
   * await client.resolveInstanceLogs('survey-42', 't_score#0');
   */
  resolveInstanceLogs(sessionId: string, instance: string): Promise<void> {
    return this.backend.resolveInstanceLogs(sessionId, instance);
  }

  /**
   * Sets an instance's status by hand, merging `metadata` into its metadata; with `finished`
   * and `cascade`, fires the task's name with `cascadeKwargs` as its result. Refused with
   * `InstanceStateError` (409) while the instance is scheduled or running, `ValidationError`
   * for `cascade` without `finished` or a status that is not one, `NotFoundError` for an unknown
   * session or instance. Resolves once the request is accepted.
   *
   * @example
   * await client.setInstanceStatus('survey-42', 't_score#0', 'finished', {
   *   cascade: true,
   *   cascadeKwargs: { score: 0 },
   *   metadata: { settledBy: 'ops' },
   * });
   */
  setInstanceStatus(
    sessionId: string,
    instance: string,
    status: InstanceStatus,
    opts: SetStatusOptions = {},
  ): Promise<void> {
    return this.backend.setInstanceStatus(sessionId, instance, status, opts);
  }
}
