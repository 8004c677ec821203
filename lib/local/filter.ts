/**
 * Lambda event filtering as the local event sources apply it: the subset of the pattern syntax
 * the wiring's stream filters use.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { FilterPattern, FilterValue } from '../adapters/aws-lambda/wiring.ts';

function isPattern(value: FilterPattern | FilterValue[]): value is FilterPattern {
  return !Array.isArray(value);
}

function matchesValue(actual: unknown, allowed: FilterValue): boolean {
  if (allowed !== null && typeof allowed === 'object') {
    if ('prefix' in allowed) return typeof actual === 'string' && actual.startsWith(allowed.prefix);
    if ('anything-but' in allowed) {
      return actual !== undefined && !(allowed['anything-but'] as unknown[]).includes(actual);
    }
    if ('exists' in allowed) return (actual !== undefined) === allowed.exists;
    return false;
  }
  return actual === allowed;
}

/**
 * Lambda event filtering for the subset of the pattern syntax the wiring uses: nested fields,
 * lists of allowed values (any may match), exact values, `prefix`, `anything-but` and `exists`.
 * A field the pattern names but the event lacks fails the match, except `{ exists: false }`.
 *
 * @example
 * matchesPattern(record, { eventName: ['INSERT'], dynamodb: { Keys: { sk: { S: [{ prefix: 'EVT#' }] } } } });
 */
export function matchesPattern(event: unknown, pattern: FilterPattern): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    const actual =
      event !== null && typeof event === 'object' && Object.hasOwn(event, key)
        ? (event as Record<string, unknown>)[key]
        : undefined;
    if (isPattern(rule)) {
      if (actual === null || typeof actual !== 'object' || !matchesPattern(actual, rule))
        return false;
    } else if (
      // A field holding a list matches when any of its elements does, as Lambda and EventBridge match.
      !rule.some((allowed) =>
        Array.isArray(actual)
          ? actual.some((element) => matchesValue(element, allowed))
          : matchesValue(actual, allowed),
      )
    ) {
      return false;
    }
  }
  return true;
}

/** True when the event matches any of the patterns (or there are none: no filtering). */
export function matchesAny(event: unknown, patterns: readonly FilterPattern[]): boolean {
  return patterns.length === 0 || patterns.some((p) => matchesPattern(event, p));
}

/** The operators `matchesPattern` knows. */
const KNOWN_OPERATORS = new Set(['prefix', 'anything-but', 'exists']);

/**
 * The first part of a filter pattern `matchesPattern` cannot evaluate (an operator such as
 * `numeric` or `suffix`, a malformed value), described; undefined when it can evaluate all of
 * it. The template mode refuses a mapping whose filters it would otherwise misread.
 *
 * @example
 * unsupportedInPattern({ dynamodb: { Keys: { sk: { S: [{ suffix: '#1' }] } } } }); // "operator 'suffix' at dynamodb.Keys.sk.S"
 */
export function unsupportedInPattern(pattern: unknown, path = ''): string | undefined {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) {
    return `a pattern must be an object${path ? ` at ${path}` : ''}`;
  }
  for (const [key, rule] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (!Array.isArray(rule)) {
      const inner = unsupportedInPattern(rule, at);
      if (inner !== undefined) return inner;
      continue;
    }
    for (const value of rule as unknown[]) {
      if (value === null || typeof value !== 'object') continue;
      const [op, ...more] = Object.keys(value);
      if (op === undefined || more.length > 0 || !KNOWN_OPERATORS.has(op)) {
        return `operator '${Object.keys(value).join("', '")}' at ${at}`;
      }
      const arg = (value as Record<string, unknown>)[op];
      const ok =
        op === 'prefix'
          ? typeof arg === 'string'
          : op === 'exists'
            ? typeof arg === 'boolean'
            : Array.isArray(arg) && arg.every((v) => typeof v === 'string');
      if (!ok) return `operator '${op}' with ${JSON.stringify(arg)} at ${at}`;
    }
  }
  return undefined;
}
