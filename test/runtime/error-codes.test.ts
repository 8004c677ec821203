/**
 * Error codes: one union in `lib/errors.ts`, their HTTP statuses in the HTTP layer, and the line
 * between refusals and failures drawn the same way by both.
 */
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS, withHttpStatus } from '../../lib/core/http.ts';
import {
  type ErrorCode,
  isRefusal,
  NotFoundError,
  SettleTimeoutError,
  TriggersError,
  ValidationError,
} from '../../lib/errors.ts';

const codes = Object.keys(HTTP_STATUS) as ErrorCode[];

describe('error codes', () => {
  it.each(codes)('%s is a refusal exactly when the API answers it with a 4xx', (code) => {
    const err = new TriggersError('x', { code });

    expect(isRefusal(err)).toBe(HTTP_STATUS[code] >= 400 && HTTP_STATUS[code] < 500);
  });

  it('are answered with the statuses the API has always used', () => {
    expect(HTTP_STATUS).toMatchObject({
      VALIDATION: 400,
      WORKFLOW_INVALID: 400,
      NOT_FOUND: 404,
      INSTANCE_NOT_FAILED: 409,
      METHOD_NOT_ALLOWED: 405,
      PAYLOAD_TOO_LARGE: 413,
      NOT_AVAILABLE: 501,
      SETTLE_TIMEOUT: 504,
      INTERNAL: 500,
    });
  });

  it('leave the status of a domain error unset until the HTTP layer gives it one', () => {
    const err = new ValidationError('bad name');

    expect(err.status).toBeUndefined();
    expect(withHttpStatus(err).status).toBe(400);
    expect(withHttpStatus(new NotFoundError('gone')).status).toBe(404);
  });

  it('keep a status an HTTP answer already gave', () => {
    const err = new TriggersError('upstream', { code: 'HTTP_ERROR', status: 503 });

    expect(withHttpStatus(err).status).toBe(503);
  });

  it('do not count a plain Error or a failure as a refusal', () => {
    expect(isRefusal(new Error('x'))).toBe(false);
    expect(isRefusal(new SettleTimeoutError('timed out'))).toBe(false);
    expect(isRefusal('VALIDATION')).toBe(false);
  });
});
