/**
 * The task message, once: its type, its schema, the delay split SQS needs, and `SendTask`, the
 * seam every runner implements (SQS on AWS and locally, the memory backend in tests).
 * May import: base, engine, store, core.
 *
 * @module
 */
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { instanceSchema, parseInput, sessionIdSchema } from './validation.ts';

/**
 * The body of a task queue message: the instance to run.
 *
 * @example
 * const message: TaskMessage = { sessionId: 's1', instance: 't_score#0' };
 */
export interface TaskMessage {
  sessionId: string;
  instance: string;
  /**
   * Not to run before this time (ISO 8601): set when a cooldown is longer than a queue can
   * delay a message, so the message is sent on again until it is due.
   */
  notBefore?: string;
}

/**
 * Sends one task message to a queue (a task's `using ?? run`), visible after `delaySeconds`.
 *
 * @example
 * const send: SendTask = async (queue, message, delaySeconds) => { held.push({ queue, message, delaySeconds }); };
 */
export type SendTask = (queue: string, message: TaskMessage, delaySeconds: number) => Promise<void>;

/** The longest delay SQS holds a message for: longer cooldowns are sent on again. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

const taskMessageSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  notBefore: z.iso.datetime().optional(),
});

/**
 * Reads a task message from a queue message's body; throws `ValidationError` for anything else.
 *
 * @example
 * parseTaskMessage('{"sessionId":"s1","instance":"t_a#0"}', 'msg-1'); // { sessionId: 's1', instance: 't_a#0' }
 */
export function parseTaskMessage(body: string, messageId: string): TaskMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new ValidationError(`message ${messageId} is not JSON`, { cause: err });
  }
  return parseInput(taskMessageSchema, parsed);
}

/**
 * Splits a delay a queue cannot hold: up to `MAX_QUEUE_DELAY_SECONDS` as the message's own
 * delay, and the moment it may run as `notBefore` when the delay is longer.
 *
 * @example
 * splitDelay(3600, new Date('2026-01-01T00:00:00Z'));
 * // { delaySeconds: 900, notBefore: '2026-01-01T01:00:00.000Z' }
 */
export function splitDelay(
  delaySeconds: number,
  now: Date,
): { delaySeconds: number; notBefore?: string } {
  const whole = Math.max(0, Math.ceil(delaySeconds));
  if (whole <= MAX_QUEUE_DELAY_SECONDS) return { delaySeconds: whole };
  return {
    delaySeconds: MAX_QUEUE_DELAY_SECONDS,
    notBefore: new Date(now.getTime() + whole * 1000).toISOString(),
  };
}

/**
 * The body and delay of the queue message that carries `message` after `delaySeconds`: the
 * delay split with `splitDelay`, `notBefore` set when it had to be.
 *
 * @example
 * queuedTaskMessage({ sessionId: 's1', instance: 't_a#0' }, 60, new Date());
 * // { body: '{"sessionId":"s1","instance":"t_a#0"}', delaySeconds: 60 }
 */
export function queuedTaskMessage(
  message: TaskMessage,
  delaySeconds: number,
  now: Date,
): { body: string; delaySeconds: number } {
  const split = splitDelay(delaySeconds, now);
  const body: TaskMessage = {
    sessionId: message.sessionId,
    instance: message.instance,
    ...(split.notBefore !== undefined ? { notBefore: split.notBefore } : {}),
  };
  return { body: JSON.stringify(body), delaySeconds: split.delaySeconds };
}
