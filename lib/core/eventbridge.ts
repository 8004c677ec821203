/**
 * EventBridge ingestion: a mapping from an EventBridge event to a fire (`sessionId`, `trigger`,
 * `kwargs`, `eventId`), and the handler logic that fires mapped events through the HTTP path's
 * ingest flow, with a `RejectEvent` port for the events whose mapped fire is invalid.
 * May import: base, engine, store, core.
 *
 * @module
 */
import type { z } from 'zod';
import { isPlainObject, setOwn } from '../engine/kwargs.ts';
import { EventMappingError, NotFoundError, ValidationError } from '../errors.ts';
import type { Kwargs } from '../types.ts';
import { MAX_BODY_BYTES } from './http.ts';
import { type FireResult, fireEvent, type IngestDeps } from './ingest.ts';
import type { LogSink } from './log.ts';
import { type FireInput, FORBIDDEN_KEYS, fireInputSchema } from './validation.ts';

/**
 * Where each part of a fire comes from in an EventBridge event. Each value is a path (`$`,
 * `$.detail.orderId`, `$['detail-type']`, `$.resources[0]`) or, when it does not begin with `$`,
 * a literal string. A mapping is checked when the construct is synthesized and again for every
 * event.
 *
 * | value | meaning |
 * |---|---|
 * | `$` | the whole event |
 * | `$.detail.orderId`, `$.detail-type`, `$.resources[0]`, `$.detail['a.b']` | a path into the event |
 * | anything that does not begin with `$` | a literal string (`'orderPlaced'`) |
 *
 * @example
 * const mapping: EventMapping = {
 *   sessionId: '$.detail.orderId',
 *   trigger: 'orderPlaced',
 *   kwargs: { orderId: '$.detail.orderId', total: '$.detail.total', source: '$.source' },
 * };
 */
export interface EventMapping {
  /** The session: a path (to a string or a number), or a literal session id. */
  readonly sessionId: string;
  /** The trigger: a path (`$.detail-type`, say), or a literal trigger name. */
  readonly trigger: string;
  /**
   * The kwargs: a path to a JSON object, or an object whose values are paths or literals (a
   * path that finds nothing leaves its key out).
   * @default '$.detail'
   */
  readonly kwargs?: string | Readonly<Record<string, string>>;
  /**
   * The event id, the idempotency key: a path (a literal would make every event after the first
   * a duplicate).
   * @default - `<trigger>:<the EventBridge event's id>`: EventBridge's redeliveries of an event
   * are applied once, and two rules that map one event to two triggers both apply
   */
  readonly eventId?: string;
}

type PathStep = string | number;

/** One part of a mapping, compiled: a path into the event, or a literal. */
type Source =
  | { kind: 'path'; text: string; steps: readonly PathStep[] }
  | { kind: 'literal'; value: string };

/** A mapping whose paths are parsed and whose literals are checked; see `compileEventMapping`. */
export interface CompiledEventMapping {
  readonly sessionId: Source;
  readonly trigger: Source;
  readonly kwargs: Source | ReadonlyMap<string, Source>;
  readonly eventId: Source | undefined;
}

const NAME_CHAR = /[^.[\]\s'"$]/;

/**
 * The steps of a path (`$`, `.name`, `[0]`, `['name']`, `["name"]`), or the reason it is not one.
 */
function parsePath(text: string): readonly PathStep[] | string {
  const steps: PathStep[] = [];
  let i = 1;
  while (i < text.length) {
    const at = `(at character ${i + 1})`;
    const c = text[i];
    if (c === '.') {
      let j = i + 1;
      while (j < text.length && NAME_CHAR.test(text[j] as string)) j++;
      if (j === i + 1) return `has no name after '.' ${at}`;
      steps.push(text.slice(i + 1, j));
      i = j;
    } else if (c === '[') {
      const quote = text[i + 1];
      if (quote === "'" || quote === '"') {
        const close = text.indexOf(`${quote}]`, i + 2);
        if (close < 0) return `has an unclosed [${quote} ${at}`;
        steps.push(text.slice(i + 2, close));
        i = close + 2;
      } else {
        const close = text.indexOf(']', i + 1);
        const index = close < 0 ? '' : text.slice(i + 1, close);
        if (!/^(0|[1-9][0-9]{0,8})$/.test(index)) {
          return `needs an array index or a quoted name inside [ ] ${at}`;
        }
        steps.push(Number(index));
        i = close + 1;
      }
    } else {
      return `has '${c}' where '.' or '[' belongs ${at}`;
    }
  }
  return steps;
}

function compileSource(field: string, text: unknown): Source {
  if (typeof text !== 'string') throw new EventMappingError(field, 'must be a string');
  if (!text.startsWith('$')) return { kind: 'literal', value: text };
  const steps = parsePath(text);
  if (typeof steps === 'string') {
    throw new EventMappingError(
      field,
      `'${text}' is not a path: it ${steps}; a value that begins with '$' is a path ('$.detail.id', "$['detail-type']", '$.resources[0]')`,
    );
  }
  return { kind: 'path', text, steps };
}

function checkLiteral(field: string, source: Source, schema: z.ZodType<unknown>): void {
  if (source.kind !== 'literal') return;
  const parsed = schema.safeParse(source.value);
  if (!parsed.success) {
    throw new EventMappingError(
      field,
      `'${source.value}' ${parsed.error.issues[0]?.message ?? 'is invalid'}`,
    );
  }
}

/**
 * Parses a mapping's paths and checks its literals, as the construct does at synth time and
 * the function at cold start. Throws `EventMappingError` naming the part at fault.
 *
 * @example
 * compileEventMapping({ sessionId: '$.detail.orderId', trigger: 'orderPlaced' });
 * compileEventMapping({ sessionId: '$.detail..id', trigger: 'x' });
 * // throws EventMappingError: mapping.sessionId '$.detail..id' is not a path: it has no name after '.' ...
 */
export function compileEventMapping(mapping: EventMapping): CompiledEventMapping {
  if (!isPlainObject(mapping)) {
    throw new EventMappingError('', 'must be an object of sessionId, trigger, kwargs?, eventId?');
  }
  const unknown = Object.keys(mapping).filter(
    (k) => !['sessionId', 'trigger', 'kwargs', 'eventId'].includes(k),
  );
  if (unknown.length > 0) {
    throw new EventMappingError(
      unknown[0] as string,
      'is not a mapping field (sessionId, trigger, kwargs, eventId)',
    );
  }
  const shape = fireInputSchema.shape;
  const sessionId = compileSource('sessionId', mapping.sessionId);
  checkLiteral('sessionId', sessionId, shape.sessionId);
  const trigger = compileSource('trigger', mapping.trigger);
  checkLiteral('trigger', trigger, shape.trigger);
  let eventId: Source | undefined;
  if (mapping.eventId !== undefined) {
    eventId = compileSource('eventId', mapping.eventId);
    if (eventId.kind === 'literal') {
      throw new EventMappingError(
        'eventId',
        `'${mapping.eventId}' is a literal: every event after the first would be a duplicate; give a path ('$.detail.requestId'), or leave it out for '<trigger>:<the event's id>'`,
      );
    }
  }
  let kwargs: Source | Map<string, Source>;
  const kw = mapping.kwargs ?? '$.detail';
  if (typeof kw === 'string') {
    kwargs = compileSource('kwargs', kw);
    if (kwargs.kind === 'literal') {
      throw new EventMappingError(
        'kwargs',
        `'${kw}' is a literal string, and kwargs must be a JSON object: give a path ('$.detail') or an object of paths and literals`,
      );
    }
  } else if (isPlainObject(kw)) {
    kwargs = new Map();
    for (const [key, value] of Object.entries(kw)) {
      if (FORBIDDEN_KEYS.includes(key)) {
        throw new EventMappingError(`kwargs.${key}`, 'is a key kwargs must not contain');
      }
      kwargs.set(key, compileSource(`kwargs.${key}`, value));
    }
  } else {
    throw new EventMappingError('kwargs', 'must be a path or an object of paths and literals');
  }
  return { sessionId, trigger, kwargs, eventId };
}

/** What a path finds in `event`, or undefined when it finds nothing. */
function resolvePath(event: unknown, steps: readonly PathStep[]): unknown {
  let value = event;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(value) || step >= value.length) return undefined;
      value = value[step];
    } else {
      if (!isPlainObject(value) || !Object.hasOwn(value, step)) return undefined;
      value = value[step];
    }
  }
  return value;
}

function preview(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

const from = (source: Source): string =>
  source.kind === 'path' ? `(${source.text})` : `('${source.value}')`;

/** Where a field of the fire came from, for messages: `($.detail.orderId) `, or nothing. */
function sourceOf(mapping: CompiledEventMapping, field: string): string {
  if (field === 'kwargs') {
    return mapping.kwargs instanceof Map
      ? '(the kwargs object) '
      : `${from(mapping.kwargs as Source)} `;
  }
  if (field === 'eventId' && mapping.eventId === undefined) return '(<trigger>:$.id) ';
  if (field === 'sessionId' || field === 'trigger' || field === 'eventId') {
    return `${from(mapping[field] as Source)} `;
  }
  return '';
}

/** A name (session id, trigger, event id): a string, or a finite number as its decimal text. */
function resolveName(field: string, source: Source, event: unknown): string {
  if (source.kind === 'literal') return source.value;
  const value = resolvePath(event, source.steps);
  if (value === undefined) {
    throw new EventMappingError(field, `${from(source)} found nothing in the event`);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new EventMappingError(
    field,
    `${from(source)} gave ${preview(value)}, which must be a string or a number`,
  );
}

function resolveKwargs(mapping: CompiledEventMapping, event: unknown): unknown {
  if (!(mapping.kwargs instanceof Map)) {
    const source = mapping.kwargs as Source & { kind: 'path' };
    const value = resolvePath(event, source.steps);
    if (value === undefined) {
      throw new EventMappingError('kwargs', `${from(source)} found nothing in the event`);
    }
    return value;
  }
  const kwargs: Kwargs = {};
  for (const [key, source] of mapping.kwargs) {
    const value = source.kind === 'literal' ? source.value : resolvePath(event, source.steps);
    if (value !== undefined) setOwn(kwargs, key, value);
  }
  return kwargs;
}

/** What the ingestion fires mapped events with. */
export interface EventIngestion {
  readonly mapping: CompiledEventMapping;
  /**
   * The workflow a session gets when an event creates it.
   * @default - the deployment's default workflow
   */
  readonly workflow?: string;
}

/**
 * The fire an EventBridge event maps to, checked with the HTTP path's schema and body limit.
 * Throws `EventMappingError` naming the part of the mapping and the path that gave a bad value.
 *
 * @example
 * mapEvent({ mapping: compileEventMapping({ sessionId: '$.detail.orderId', trigger: 'orderPlaced' }) }, event);
 * // { sessionId: 'o-1', trigger: 'orderPlaced', kwargs: { orderId: 'o-1' }, eventId: 'orderPlaced:6a7e...' }
 */
export function mapEvent(ingestion: EventIngestion, event: unknown): FireInput {
  const { mapping } = ingestion;
  const sessionId = resolveName('sessionId', mapping.sessionId, event);
  const trigger = resolveName('trigger', mapping.trigger, event);
  const eventId =
    mapping.eventId !== undefined
      ? resolveName('eventId', mapping.eventId, event)
      : `${trigger}:${resolveName('eventId', { kind: 'path', text: '$.id', steps: ['id'] }, event)}`;
  const kwargs = resolveKwargs(mapping, event);
  const input = {
    sessionId,
    trigger,
    kwargs,
    eventId,
    ...(ingestion.workflow !== undefined ? { workflow: ingestion.workflow } : {}),
  };
  const parsed = fireInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const field = String(issue.path[0] ?? 'input') as keyof typeof input;
    const where = issue.path.length > 1 ? ` (at ${issue.path.slice(1).join('.')})` : '';
    throw new EventMappingError(
      field,
      `${sourceOf(mapping, field)}gave ${preview(input[field])}, which ${issue.message}${where}`,
      { cause: parsed.error },
    );
  }
  const body = {
    trigger: parsed.data.trigger,
    kwargs: parsed.data.kwargs,
    eventId: parsed.data.eventId,
    workflow: parsed.data.workflow,
  };
  const bytes = Buffer.byteLength(JSON.stringify(body), 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    throw new EventMappingError(
      'kwargs',
      `made a fire of ${bytes} bytes; the limit is ${MAX_BODY_BYTES}, as for an HTTP request body`,
    );
  }
  return parsed.data;
}

/** An event the ingestion refused, and why. */
export interface RejectedEvent {
  /** The EventBridge event as it arrived. */
  readonly event: unknown;
  readonly error: { readonly code: string; readonly message: string };
}

/** Parks a refused event where an operator finds it (the dead-letter queue on AWS). */
export type RejectEvent = (rejected: RejectedEvent) => Promise<void>;

/** What EventBridge ingestion needs: the ingest flow's deps, a log and where refusals go. */
export interface EventBridgeIngestDeps extends IngestDeps {
  log: LogSink;
  reject: RejectEvent;
}

/** What became of one EventBridge event. */
export type EventBridgeOutcome =
  | ({ status: 'fired' } & FireResult)
  | { status: 'rejected'; code: string; message: string };

/** The attributes that identify an EventBridge event in log lines. */
function eventAttributes(event: unknown): Record<string, unknown> {
  if (!isPlainObject(event)) return { eventType: preview(event) };
  const pick = (key: string) => (typeof event[key] === 'string' ? { [key]: event[key] } : {});
  return {
    ...(typeof event.id === 'string' ? { eventBridgeId: event.id } : {}),
    ...pick('source'),
    ...(typeof event['detail-type'] === 'string' ? { detailType: event['detail-type'] } : {}),
  };
}

/**
 * Fires one EventBridge event through the ingest flow: `fireEvent`, the HTTP path's, so
 * validation, limits and idempotency are the HTTP path's. The same event twice (EventBridge
 * delivers at least once) is applied once: the second outcome says `duplicate: true`. An event
 * whose mapped fire is invalid (a session id or trigger that breaks the name rules, kwargs that
 * are not a JSON object, a path that finds nothing, a fire over the size limit) is logged at
 * `error` and handed to `deps.reject` (the dead-letter queue on AWS), and the outcome is
 * `rejected`: such an event is never retried, and never lost. Storage errors are thrown, so the
 * invocation is retried.
 *
 * @example
 * const outcome = await ingestEventBridgeEvent(deps, { mapping }, event);
 * if (outcome.status === 'fired') console.log(outcome.eventId, outcome.duplicate);
 */
export async function ingestEventBridgeEvent(
  deps: EventBridgeIngestDeps,
  ingestion: EventIngestion,
  event: unknown,
): Promise<EventBridgeOutcome> {
  let result: FireResult;
  try {
    result = await fireEvent(deps, mapEvent(ingestion, event));
  } catch (err) {
    if (!(err instanceof ValidationError || err instanceof NotFoundError)) throw err;
    const error = { code: err.code, message: err.message };
    await deps.reject({ event, error });
    deps.log({
      level: 'error',
      message: `EventBridge event rejected and sent to the dead-letter queue: ${err.message}`,
      timestamp: deps.clock.now().toISOString(),
      code: err.code,
      ...eventAttributes(event),
    });
    return { status: 'rejected', ...error };
  }
  deps.log({
    level: 'info',
    message: result.duplicate ? 'EventBridge event was a duplicate' : 'EventBridge event fired',
    timestamp: deps.clock.now().toISOString(),
    sessionId: result.sessionId,
    eventId: result.eventId,
    duplicate: result.duplicate,
    ...eventAttributes(event),
  });
  return { status: 'fired', ...result };
}
