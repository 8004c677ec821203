/**
 * Input validation of the ingest flows: the name patterns, the limits on JSON shapes and sizes,
 * and the schemas of a fire, a replay and a skip.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { z } from 'zod';
import { isPlainObject } from '../engine/kwargs.ts';
import { INSTANCE_PATTERN, NAME_PATTERN, SESSION_ID_PATTERN } from '../engine/names.ts';
import { ValidationError } from '../errors.ts';
import type { Kwargs, TaskConfig } from '../types.ts';

/** Event ids: the application's idempotency keys. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,256}$/;

/** How deep kwargs and results may nest (objects and arrays), the outermost object being 1. */
export const MAX_JSON_DEPTH = 32;

/** The largest result a handler may return, as JSON (the request body limit, 256 KiB). */
export const MAX_RESULT_BYTES = 256 * 1024;

/** Keys refused in kwargs and results at any depth: prototype-pollution vectors elsewhere. */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor'];

/**
 * What is wrong with the shape of a JSON value: nesting deeper than `MAX_JSON_DEPTH`, or (unless
 * `keys` is false) a key of `FORBIDDEN_KEYS`; undefined when nothing is. Iterative, so hostile
 * depth cannot overflow the stack.
 *
 * @example
 * jsonShapeProblem({ a: { __proto__x: 1 } }); // undefined
 * jsonShapeProblem(JSON.parse('{"a":{"__proto__":{}}}')); // "must not contain the key '__proto__' (at a)"
 */
export function jsonShapeProblem(
  value: unknown,
  opts: { keys?: boolean } = {},
): string | undefined {
  const checkKeys = opts.keys ?? true;
  const stack: Array<{ value: unknown; depth: number; path: string }> = [
    { value, depth: 1, path: '' },
  ];
  while (stack.length > 0) {
    const { value: v, depth, path } = stack.pop() as (typeof stack)[number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_JSON_DEPTH) {
      return `must not nest deeper than ${MAX_JSON_DEPTH} levels (at ${path})`;
    }
    for (const key of Object.keys(v)) {
      const at = path === '' ? key : `${path}.${key}`;
      if (checkKeys && !Array.isArray(v) && FORBIDDEN_KEYS.includes(key)) {
        return `must not contain the key '${key}'${path === '' ? '' : ` (at ${path})`}`;
      }
      stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1, path: at });
    }
  }
  return undefined;
}

const shapeChecked = <T>(schema: z.ZodType<T>) =>
  schema.superRefine((v, ctx) => {
    const problem = jsonShapeProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

const kwargs = shapeChecked(
  z.custom<Kwargs>((v) => isPlainObject(v), { error: 'must be a JSON object' }),
);
const kwargsByKey = shapeChecked(
  z.custom<Record<string, Kwargs>>(
    (v) => isPlainObject(v) && Object.values(v).every((x) => isPlainObject(x)),
    { error: 'must be an object whose values are JSON objects' },
  ),
);

/** A session id: 1 to 256 letters, digits, `_`, `.`, `:` or `-`. */
export const sessionIdSchema = z
  .string({ error: 'must be a string' })
  .regex(SESSION_ID_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,256}$' });
/** A trigger (or workflow) name: 1 to 128 letters, digits, `_`, `.`, `:` or `-`. */
export const triggerSchema = z
  .string({ error: 'must be a string' })
  .regex(NAME_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,128}$ (no spaces, no "#")' });
/** An instance name, `<task>#<n>`. */
export const instanceSchema = z
  .string({ error: 'must be a string' })
  .regex(INSTANCE_PATTERN, { error: "must be an instance name such as 't_alpha#0'" });
const eventIdSchema = z
  .string({ error: 'must be a string' })
  .regex(EVENT_ID_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,256}$' });

/** The input of a fire: session, trigger, optional kwargs, event id and workflow. */
export const fireInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  trigger: triggerSchema,
  kwargs: kwargs.optional(),
  eventId: eventIdSchema.optional(),
  workflow: triggerSchema.optional(),
});
/** A fire's input, as `fireInputSchema` accepts it. */
export type FireInput = z.infer<typeof fireInputSchema>;

/** The input of a replay request: session, failed instance, optional replacement kwargs. */
export const replayInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  kwargs: kwargsByKey.optional(),
  eventId: eventIdSchema.optional(),
});
/** A replay request's input, as `replayInputSchema` accepts it. */
export type ReplayInput = z.infer<typeof replayInputSchema>;

/** The input of a skip request: session, failed instance, cascade, optional result. */
export const skipInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  cascade: z.boolean({ error: 'must be a boolean' }).optional(),
  result: kwargs.optional(),
  eventId: eventIdSchema.optional(),
});
/** A skip request's input, as `skipInputSchema` accepts it. */
export type SkipInput = z.infer<typeof skipInputSchema>;

/** The most tasks one configuration may hold. */
export const MAX_CONFIGURED_TASKS = 200;

/** The largest configuration, as JSON (the request body limit, 256 KiB). */
export const MAX_CONFIGURATION_BYTES = 256 * 1024;

/** The largest metadata one request may merge into an instance, as JSON (64 KiB). */
export const MAX_METADATA_BYTES = 64 * 1024;

/** What a JSON value weighs, in UTF-8 bytes of its JSON text. */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

const metadata = kwargs.refine((v) => jsonBytes(v) <= MAX_METADATA_BYTES, {
  error: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
});

/** The statuses `InstanceStatus` names. */
export const INSTANCE_STATUSES = [
  'unstarted',
  'scheduled',
  'running',
  'finished',
  'failed',
  'abandoned',
  'replayed',
  'skipped',
] as const;

/** The input of a configuration: the tasks to merge into the session's workflow. */
export const configureInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  tasks: shapeChecked(
    z.custom<Record<string, TaskConfig>>(
      (v) => isPlainObject(v) && Object.values(v).every((x) => isPlainObject(x)),
      { error: 'must be an object of task configs, by task name' },
    ),
  )
    .refine((v) => Object.keys(v).length > 0, { error: 'must name at least one task' })
    .refine((v) => Object.keys(v).length <= MAX_CONFIGURED_TASKS, {
      error: `must hold at most ${MAX_CONFIGURED_TASKS} tasks`,
    })
    .refine((v) => Object.keys(v).every((name) => NAME_PATTERN.test(name)), {
      error: 'task names must match ^[A-Za-z0-9_.:-]{1,128}$ (no spaces, no "#")',
    })
    .refine((v) => jsonBytes(v) <= MAX_CONFIGURATION_BYTES, {
      error: `must be at most ${MAX_CONFIGURATION_BYTES} bytes as JSON`,
    }),
  workflow: triggerSchema.optional(),
  eventId: eventIdSchema.optional(),
});
/** A configuration's input, as `configureInputSchema` accepts it. */
export type ConfigureInput = z.infer<typeof configureInputSchema>;

/** The input of a metadata merge into an instance. */
export const metadataInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  metadata,
  eventId: eventIdSchema.optional(),
});
/** A metadata merge's input, as `metadataInputSchema` accepts it. */
export type MetadataInput = z.infer<typeof metadataInputSchema>;

/** The input of marking an instance's logs resolved. */
export const resolveLogsInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  eventId: eventIdSchema.optional(),
});
/** A resolve-logs request's input, as `resolveLogsInputSchema` accepts it. */
export type ResolveLogsInput = z.infer<typeof resolveLogsInputSchema>;

/** The input of setting an instance's status by hand. */
export const statusInputSchema = z
  .strictObject({
    sessionId: sessionIdSchema,
    instance: instanceSchema,
    status: z.enum(INSTANCE_STATUSES, {
      error: `must be one of ${INSTANCE_STATUSES.join(', ')}`,
    }),
    metadata: metadata.optional(),
    cascade: z.boolean({ error: 'must be a boolean' }).optional(),
    cascadeKwargs: kwargs.optional(),
    eventId: eventIdSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.status === 'unstarted' || v.status === 'scheduled' || v.status === 'running') {
      ctx.addIssue({
        code: 'custom',
        path: ['status'],
        message: `'${v.status}' is set by the runtime, not by hand (use finished, failed, abandoned, replayed or skipped)`,
      });
    }
    if (v.cascade === true && v.status !== 'finished') {
      ctx.addIssue({
        code: 'custom',
        path: ['cascade'],
        message: `only an instance set to 'finished' can cascade (status is '${v.status}')`,
      });
    }
    if (v.cascadeKwargs !== undefined && v.cascade !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['cascadeKwargs'],
        message: 'is only used with cascade: true',
      });
    }
  });
/** A status request's input, as `statusInputSchema` accepts it. */
export type StatusInput = z.infer<typeof statusInputSchema>;

/**
 * Parses input with a schema; throws `ValidationError` whose message names the field.
 *
 * @example
 * const input = parseInput(fireInputSchema, { sessionId: 's1', trigger: 'x' });
 */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'input';
  // Zod leaves the offending input out of its issues: look the field up to tell a missing
  // field from one of the wrong type.
  let value: unknown = input;
  for (const key of issue.path) {
    value =
      typeof value === 'object' && value !== null && Object.hasOwn(value, key)
        ? (value as Record<PropertyKey, unknown>)[key]
        : undefined;
  }
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field(s): ${issue.keys.join(', ')}`
      : issue.code === 'invalid_type' && value === undefined
        ? `'${field}' is required`
        : `'${field}' ${issue.message}`;
  throw new ValidationError(message, { cause: parsed.error });
}
