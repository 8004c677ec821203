/**
 * The workflow version: a content hash of a workflow definition, which every session is pinned
 * to and under which the stores keep deployed definitions.
 * May import: base (lib/types.ts), node:crypto.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Workflow } from '../types.ts';

/** How many hex digits of the SHA-256 a version keeps (64 bits). */
export const WORKFLOW_VERSION_LENGTH = 16;

/**
 * JSON text with the keys of every object sorted, so two definitions that differ only in key
 * order give the same text. Everything else is as `JSON.stringify` has it: undefined values
 * are left out, so a definition and its JSON round trip (what a Lambda bundle inlines) agree.
 *
 * @example
 * canonicalJson({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? // fromEntries defines keys as own data properties: a `__proto__` key stays data.
        Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

/**
 * The version of a workflow: the first 16 hex digits of the SHA-256 of its canonical JSON.
 * Every field of the definition counts (name, tasks and their directives, timers, the finalize
 * trigger, custom directives); key order does not.
 *
 * @example
 * workflowVersion(defineWorkflow('survey', { t_a: { after: ['x'], run: 'h' } })); // 'c1f0…' (16 hex digits)
 */
export function workflowVersion(workflow: Workflow): string {
  return createHash('sha256')
    .update(canonicalJson(workflow))
    .digest('hex')
    .slice(0, WORKFLOW_VERSION_LENGTH);
}
