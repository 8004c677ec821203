/**
 * Lifecycle events onto an EventBridge bus: `PutEvents` in chunks, the entries EventBridge
 * refused put again after a short backoff, a typed error when some are still refused; and the
 * lifecycle function's runtime, from its environment. Only the lifecycle function imports this
 * module, so the other functions' bundles leave the EventBridge client out.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { LIFECYCLE_EVENT_SOURCE, type LifecycleEvent } from '../../core/lifecycle.ts';
import { EnvironmentError, TriggersError } from '../../errors.ts';
import {
  type LambdaEnv,
  type LambdaRuntimeOverrides,
  runtimeFromEnv,
  settingsFromEnv,
  type TriggersApp,
} from './environment.ts';
import type { LifecycleBatchDeps } from './streams.ts';
import { ENV } from './variables.ts';

/** What `PutEvents` takes in one request: at most 10 entries, at most 256 KiB in all. */
export const PUT_EVENTS_LIMITS = { entries: 10, bytes: 256 * 1024 } as const;

/** Options of `eventBridgePublisher`. */
export interface EventBridgePublisherOptions {
  /** The client `PutEvents` is sent with. */
  readonly client: EventBridgeClient;
  /** The bus the events are put on: its name or ARN. */
  readonly eventBusName: string;
  /**
   * How many times a chunk is put before refused entries make it throw, the first included.
   * @default 4
   */
  readonly maxAttempts?: number;
  /**
   * The wait before the first retry, doubled before each next one.
   * @default 50
   */
  readonly retryDelayMs?: number;
}

/** Publishes lifecycle events in order; throws when any could not be published. */
export type PublishLifecycleEvents = (events: readonly LifecycleEvent[]) => Promise<void>;

const utf8Bytes = (text: string | undefined): number =>
  text === undefined ? 0 : Buffer.byteLength(text, 'utf8');

/** An entry's size as EventBridge counts it against the request's limit. */
function entrySize(entry: PutEventsRequestEntry): number {
  return utf8Bytes(entry.Source) + utf8Bytes(entry.DetailType) + utf8Bytes(entry.Detail);
}

/** The entries in order, cut into requests EventBridge takes (10 entries, 256 KiB). */
function chunks(entries: readonly PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const out: PutEventsRequestEntry[][] = [];
  let current: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    const full =
      current.length === PUT_EVENTS_LIMITS.entries || bytes + size > PUT_EVENTS_LIMITS.bytes;
    if (current.length > 0 && full) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A `publish` of lifecycle events for the lifecycle publisher's stream handler: each event an
 * entry of `PutEvents` on `eventBusName` (`source` `serverless-triggers`, the event's
 * `detail-type`, its detail as JSON), sent in chunks of at most 10 entries, one chunk after the
 * other, in order. The entries EventBridge refuses (`FailedEntryCount`, an entry's `ErrorCode`)
 * are put again, alone, after a short backoff, up to `maxAttempts` times in all; a retried entry
 * may so land after the entries that followed it (consumers order and deduplicate by the
 * detail's `id`). Throws a `TriggersError` (code `PUBLISH_FAILED`) naming how many entries are
 * still refused and the first error code, and the SDK's error, as `cause`, when a request fails
 * as a whole; the stream then delivers the record again (at least once).
 *
 * @example
 * const publish = eventBridgePublisher({ client: new EventBridgeClient({}), eventBusName: 'default' });
 * await publish([{ detailType: 'Session Finalized', detail: { id: 'finalized:s1', sessionId: 's1', workflow: 'survey' } }]);
 */
export function eventBridgePublisher(opts: EventBridgePublisherOptions): PublishLifecycleEvents {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
  const retryDelayMs = opts.retryDelayMs ?? 50;

  const put = async (entries: PutEventsRequestEntry[]): Promise<PutEventsResultEntry[]> => {
    try {
      const res = await opts.client.send(new PutEventsCommand({ Entries: entries }));
      const results = entries.map((_, i): PutEventsResultEntry => res.Entries?.[i] ?? {});
      const count = res.FailedEntryCount ?? 0;
      // A count without the entries it counts: none of them can be told published.
      if (count > 0 && !results.some((r) => r.ErrorCode)) {
        const ErrorMessage = `FailedEntryCount ${count} without failed entries`;
        return entries.map(() => ({ ErrorCode: 'Unknown', ErrorMessage }));
      }
      return results;
    } catch (err) {
      const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new TriggersError(
        `EventBridge PutEvents of ${entries.length} lifecycle event(s) on '${opts.eventBusName}' failed: ${what}`,
        { code: 'PUBLISH_FAILED', cause: err },
      );
    }
  };

  const putChunk = async (chunk: PutEventsRequestEntry[]): Promise<void> => {
    let pending = chunk;
    let refused: PutEventsResultEntry[] = [];
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(retryDelayMs * 2 ** (attempt - 2));
      const results = await put(pending);
      const failed = results.flatMap((r, i) => (r.ErrorCode ? [i] : []));
      if (failed.length === 0) return;
      refused = failed.map((i) => results[i] as PutEventsResultEntry);
      pending = failed.map((i) => pending[i] as PutEventsRequestEntry);
    }
    const [first] = refused;
    throw new TriggersError(
      `EventBridge refused ${refused.length} of ${chunk.length} lifecycle event(s) on '${opts.eventBusName}' after ${maxAttempts} attempt(s); first error: ${first?.ErrorCode}${first?.ErrorMessage ? ` (${first.ErrorMessage})` : ''}`,
      { code: 'PUBLISH_FAILED' },
    );
  };

  return async (events) => {
    const entries = events.map(
      (e): PutEventsRequestEntry => ({
        Source: LIFECYCLE_EVENT_SOURCE,
        DetailType: e.detailType,
        Detail: JSON.stringify(e.detail),
        EventBusName: opts.eventBusName,
      }),
    );
    for (const chunk of chunks(entries)) await putChunk(chunk);
  };
}

/**
 * What the lifecycle publisher function runs against, from its environment: `runtimeFromEnv`'s
 * store, registry, clock and log, and a `publish` that puts the events on the bus of
 * `TRIGGERS_EVENT_BUS_NAME` (required: `EnvironmentError` without it). Read once, at cold
 * start. In the template mode the client's calls go to the local AWS endpoint like every other
 * SDK call of the function.
 *
 * @example
 * const deps = lifecycleRuntimeFromEnv(app);
 * export const handler = (event: DynamoDBStreamEvent) => handleLifecycleBatch(deps, event);
 */
export function lifecycleRuntimeFromEnv(
  app: TriggersApp,
  env: LambdaEnv = process.env,
  overrides: LambdaRuntimeOverrides = {},
): LifecycleBatchDeps {
  const runtime = runtimeFromEnv(app, env, overrides);
  const settings = settingsFromEnv(env);
  const eventBusName = settings.TRIGGERS_EVENT_BUS_NAME;
  if (eventBusName === undefined) {
    throw new EnvironmentError(
      ENV.eventBusName,
      'is required: the event bus lifecycle events are put on',
    );
  }
  const client =
    overrides.eventBridge ??
    new EventBridgeClient(settings.AWS_REGION !== undefined ? { region: settings.AWS_REGION } : {});
  return {
    store: runtime.store,
    registry: runtime.registry,
    clock: runtime.clock,
    log: runtime.log,
    publish: eventBridgePublisher({ client, eventBusName }),
  };
}
