import {
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  TriggersError,
  ValidationError,
} from './errors.ts';
import type { Kwargs, SessionView } from './types.ts';

/** Options of a `TriggersClient` that talks to the HTTP API. */
export interface ApiClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:3000`. */
  apiUrl: string;
  /** The `fetch` to use. @default - the global fetch */
  fetch?: typeof fetch;
}

/** Options of a `TriggersClient` that writes to the table directly. */
export interface TableClientOptions {
  tableName: string;
  region?: string;
  endpoint?: string;
}

/** Options of `TriggersClient.fire`. */
export interface FireOptions {
  /** Makes the fire idempotent: the same id twice is applied once. */
  eventId?: string;
  /** The workflow of the session, when this event creates it. */
  workflow?: string;
}

function errorFor(
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
  return new TriggersError(message, { code, status });
}

/**
 * Fires triggers into sessions and inspects them, over the HTTP API.
 *
 * @example
 * const client = new TriggersClient({ apiUrl: 'http://127.0.0.1:3000' });
 * await client.fire('survey-42', 'step1', { answers: 3 }, { eventId: 'step1-survey-42' });
 * const view = await client.getSession('survey-42');
 */
export class TriggersClient {
  private readonly apiUrl: string | undefined;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ApiClientOptions | TableClientOptions) {
    if ('apiUrl' in opts) {
      this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    } else if ('tableName' in opts) {
      throw new NotAvailableError(
        'TriggersClient in table mode is not available in this version: use { apiUrl }',
      );
    } else {
      throw new ValidationError('TriggersClient needs { apiUrl } or { tableName }');
    }
    this.fetchFn = ('fetch' in opts && opts.fetch) || globalThis.fetch;
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    instance?: string,
  ): Promise<{ status: number; json: unknown }> {
    const res = await this.fetchFn(`${this.apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status >= 400) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw errorFor(
        res.status,
        err?.code ?? 'HTTP_ERROR',
        err?.message ?? `${method} ${path} answered ${res.status}`,
        instance,
      );
    }
    return { status: res.status, json };
  }

  /** Fires a trigger into a session; resolves once the event is accepted. */
  async fire(
    sessionId: string,
    trigger: string,
    kwargs?: Kwargs,
    opts: FireOptions = {},
  ): Promise<{ eventId: string; duplicate: boolean }> {
    const { json } = await this.request(
      'POST',
      `/sessions/${encodeURIComponent(sessionId)}/events`,
      {
        trigger,
        ...(kwargs !== undefined ? { kwargs } : {}),
        ...opts,
      },
    );
    const out = json as { eventId: string; duplicate: boolean };
    return { eventId: out.eventId, duplicate: out.duplicate };
  }

  /** The session's instances and status; undefined when it does not exist. */
  async getSession(sessionId: string): Promise<SessionView | undefined> {
    try {
      const { json } = await this.request('GET', `/sessions/${encodeURIComponent(sessionId)}`);
      return json as SessionView;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Replays a failed instance, with replacement kwargs when given. */
  async replayFailed(
    sessionId: string,
    instance: string,
    replacementKwargs?: Record<string, Kwargs>,
  ): Promise<void> {
    await this.request(
      'POST',
      `/sessions/${encodeURIComponent(sessionId)}/instances/${encodeURIComponent(instance)}/replay`,
      replacementKwargs !== undefined ? { kwargs: replacementKwargs } : {},
      instance,
    );
  }

  /** Skips a failed instance, cascading with `result` when `cascade` is set. */
  async skipFailed(
    sessionId: string,
    instance: string,
    opts: { cascade?: boolean; result?: Kwargs } = {},
  ): Promise<void> {
    await this.request(
      'POST',
      `/sessions/${encodeURIComponent(sessionId)}/instances/${encodeURIComponent(instance)}/skip`,
      opts,
      instance,
    );
  }
}
