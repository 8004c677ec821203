import { z } from 'zod';
import { isPlainObject } from '../engine/kwargs.ts';
import { INSTANCE_PATTERN, NAME_PATTERN, SESSION_ID_PATTERN } from '../engine/names.ts';
import { ValidationError } from '../errors.ts';
import type { Kwargs } from '../types.ts';

/** Event ids: the application's idempotency keys. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,256}$/;

const kwargs = z.custom<Kwargs>((v) => isPlainObject(v), { error: 'must be a JSON object' });
const kwargsByKey = z.custom<Record<string, Kwargs>>(
  (v) => isPlainObject(v) && Object.values(v).every((x) => isPlainObject(x)),
  { error: 'must be an object whose values are JSON objects' },
);

export const sessionIdSchema = z
  .string({ error: 'must be a string' })
  .regex(SESSION_ID_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,256}$' });
export const triggerSchema = z
  .string({ error: 'must be a string' })
  .regex(NAME_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,128}$ (no spaces, no "#")' });
export const instanceSchema = z
  .string({ error: 'must be a string' })
  .regex(INSTANCE_PATTERN, { error: "must be an instance name such as 't_alpha#0'" });
const eventIdSchema = z
  .string({ error: 'must be a string' })
  .regex(EVENT_ID_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,256}$' });

export const fireInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  trigger: triggerSchema,
  kwargs: kwargs.optional(),
  eventId: eventIdSchema.optional(),
  workflow: triggerSchema.optional(),
});
export type FireInput = z.infer<typeof fireInputSchema>;

export const replayInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  kwargs: kwargsByKey.optional(),
  eventId: eventIdSchema.optional(),
});
export type ReplayInput = z.infer<typeof replayInputSchema>;

export const skipInputSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  cascade: z.boolean({ error: 'must be a boolean' }).optional(),
  result: kwargs.optional(),
  eventId: eventIdSchema.optional(),
});
export type SkipInput = z.infer<typeof skipInputSchema>;

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
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field(s): ${issue.keys.join(', ')}`
      : issue.code === 'invalid_type' && issue.input === undefined
        ? `'${field}' is required`
        : `'${field}' ${issue.message}`;
  throw new ValidationError(message, { cause: parsed.error });
}
