/**
 * The inspector's view of the public HTTP API, and of the local stack's lifecycle route
 * (`/ui/lifecycle/{sessionId}`): the response shapes it reads and a small client over `fetch`,
 * same origin. Nothing here reaches past them.
 * May import: its siblings and the public types (lib/types.ts); it runs in the browser.
 *
 * @module
 */
import type {
  InstanceStatus,
  Kwargs,
  SessionEvents,
  SessionView,
  WorkflowsView,
} from '../../../types.ts';

/** One workflow as `GET /workflows` lists it. */
export type WorkflowInfo = WorkflowsView['workflows'][number];

/**
 * A lifecycle event as the local stack heard it: its `detail-type`, its detail (the hook's
 * payload and an `id`), and when it was recorded.
 */
export interface LifecycleNotice {
  detailType: string;
  detail: { id: string; sessionId: string } & Record<string, unknown>;
  recordedAt: string;
}

/** What `setStatus` sends besides the status. */
export interface SetStatusRequest {
  status: InstanceStatus;
  /** Only with `finished`: fire the task's name as if it had finished. */
  cascade: boolean;
}

/** A refusal or failure of the API, with its HTTP status and the contract's error code. */
export class InspectorApiError extends Error {
  override readonly name = 'InspectorApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The calls the inspector makes. `undefined` answers a 404 of a session read. */
export interface InspectorApi {
  workflows(): Promise<WorkflowsView>;
  session(sessionId: string): Promise<SessionView | undefined>;
  timeline(sessionId: string): Promise<SessionEvents | undefined>;
  replay(sessionId: string, instance: string): Promise<void>;
  skip(
    sessionId: string,
    instance: string,
    opts: { cascade: boolean; result?: Kwargs },
  ): Promise<void>;
  resolveLogs(sessionId: string, instance: string): Promise<void>;
  setStatus(sessionId: string, instance: string, request: SetStatusRequest): Promise<void>;
  /** The session's lifecycle events; undefined where the server keeps none (404). */
  lifecycle(sessionId: string): Promise<LifecycleNotice[] | undefined>;
}

function errorOf(status: number, body: unknown): InspectorApiError {
  const error =
    typeof body === 'object' && body !== null && 'error' in body
      ? (body as { error: { code?: unknown; message?: unknown } }).error
      : undefined;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  return new InspectorApiError(message, status, code);
}

/**
 * A client of the public HTTP API at `baseUrl` (the page's own origin by default). Instance
 * names are percent-encoded in paths, `#` included.
 *
 * @example
 * const api = createInspectorApi();
 * const view = await api.session('s1'); // undefined while the session does not exist
 */
export function createInspectorApi(
  baseUrl = '',
  fetchFn: typeof fetch = (input, init) => fetch(input, init),
): InspectorApi {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetchFn(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  };
  const read = async <T>(path: string): Promise<T | undefined> => {
    const { status, json } = await call('GET', path);
    if (status === 404) return undefined;
    if (status !== 200) throw errorOf(status, json);
    return json as T;
  };
  const post = async (path: string, body?: unknown): Promise<void> => {
    const { status, json } = await call('POST', path, body);
    if (status < 200 || status > 299) throw errorOf(status, json);
  };
  const session = (id: string) => `/sessions/${encodeURIComponent(id)}`;
  const instance = (id: string, name: string) =>
    `${session(id)}/instances/${encodeURIComponent(name)}`;

  return {
    async workflows() {
      const list = await read<WorkflowsView>('/workflows');
      if (!list) throw new InspectorApiError('GET /workflows is not served', 404, 'NOT_FOUND');
      return list;
    },
    session: (id) => read<SessionView>(session(id)),
    timeline: (id) => read<SessionEvents>(`${session(id)}/events`),
    replay: (id, name) => post(`${instance(id, name)}/replay`, {}),
    skip: (id, name, opts) =>
      post(`${instance(id, name)}/skip`, {
        cascade: opts.cascade,
        ...(opts.result === undefined ? {} : { result: opts.result }),
      }),
    resolveLogs: (id, name) => post(`${instance(id, name)}/resolve-logs`),
    setStatus: (id, name, request) =>
      post(`${instance(id, name)}/status`, {
        status: request.status,
        ...(request.cascade ? { cascade: true } : {}),
      }),
    lifecycle: async (id) =>
      (await read<{ events: LifecycleNotice[] }>(`/ui/lifecycle/${encodeURIComponent(id)}`))
        ?.events,
  };
}
