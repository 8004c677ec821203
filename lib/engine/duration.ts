/**
 * Durations as users write them: whole seconds (`90`) or a number with a unit (`'30s'`, `'7d'`),
 * parsed by one function for every option, query parameter and flag that takes one.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import { ValidationError } from '../errors.ts';
import type { Duration } from '../types.ts';

export type { Duration } from '../types.ts';

/** Seconds per unit of a `Duration`. */
export const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** The longest duration accepted: 100 years, far beyond any use, well inside a `Date`. */
export const MAX_DURATION_SECONDS = 100 * 365 * DURATION_UNITS.d;

const TEXT = /^(\d+(?:\.\d+)?)([smhd]?)$/;

/** Options of `parseDuration`. */
export interface ParseDurationOptions {
  /** What the duration is for, to name it in a refusal (`'olderThan'`, `'--older-than'`). */
  readonly name?: string;
}

/**
 * The seconds of a duration: a number of seconds, or a string of digits (a decimal point
 * allowed) followed by `s`, `m`, `h` or `d`, or by nothing for seconds (`'90'`, as query
 * strings and flags carry numbers). The result must be a whole number of seconds, from 0 up
 * to `MAX_DURATION_SECONDS`; anything else throws `ValidationError` saying what was given and
 * what is accepted. Every option, query parameter and flag that takes a duration goes through
 * here, so they all accept and refuse the same things.
 *
 * @example
 * parseDuration('24h'); // 86400
 * parseDuration('1.5m'); // 90
 * parseDuration(30); // 30
 * parseDuration('1w', { name: 'olderThan' });
 * // throws ValidationError: olderThan: '1w' is not a duration: use seconds (90) or a number with s, m, h or d ('30s', '15m', '24h', '7d')
 */
export function parseDuration(d: Duration | string, opts: ParseDurationOptions = {}): number {
  const prefix = opts.name !== undefined ? `${opts.name}: ` : '';
  const shown = typeof d === 'string' ? `'${d}'` : String(d);
  let seconds: number;
  if (typeof d === 'number') {
    seconds = d;
  } else if (typeof d === 'string') {
    const match = TEXT.exec(d);
    if (match === null) {
      throw new ValidationError(
        `${prefix}${shown} is not a duration: use seconds (90) or a number with s, m, h or d ('30s', '15m', '24h', '7d')`,
      );
    }
    const unit = (match[2] || 's') as keyof typeof DURATION_UNITS;
    // Scaled in integers where the text allows it, so '0.1h' is exactly 360, not 360.00000000000006.
    seconds = Math.round(Number(match[1]) * DURATION_UNITS[unit] * 1e6) / 1e6;
  } else {
    throw new ValidationError(`${prefix}${shown} is not a duration: expected a number or a string`);
  }
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new ValidationError(`${prefix}${shown} is not a duration: it must be 0 or more seconds`);
  }
  if (!Number.isInteger(seconds)) {
    throw new ValidationError(
      `${prefix}${shown} is ${seconds} seconds: a duration must be a whole number of seconds`,
    );
  }
  if (seconds > MAX_DURATION_SECONDS) {
    throw new ValidationError(
      `${prefix}${shown} is longer than the longest duration accepted (${MAX_DURATION_SECONDS / DURATION_UNITS.d}d)`,
    );
  }
  return seconds;
}
