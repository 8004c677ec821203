/**
 * The patterns of trigger, task and session names, and instance names (`<task>#<n>`).
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */

/** Trigger and task names: `#` is reserved for instance names (`<task>#<n>`). */
export const NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Session ids chosen by the application. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,256}$/;

/** Instance names: `<task>#<n>`. */
export const INSTANCE_PATTERN = /^([A-Za-z0-9_.:-]{1,128})#(0|[1-9][0-9]{0,9})$/;

/**
 * The name of instance number `n` of `task`.
 *
 * @example
 * instanceName('t_a', 0); // 't_a#0'
 */
export function instanceName(task: string, n: number): string {
  return `${task}#${n}`;
}

/**
 * The task and number of an instance name, or undefined when it is not one.
 *
 * @example
 * parseInstanceName('t_a#2'); // { task: 't_a', n: 2 }
 * parseInstanceName('t_a'); // undefined
 */
export function parseInstanceName(name: string): { task: string; n: number } | undefined {
  const m = INSTANCE_PATTERN.exec(name);
  if (!m) return undefined;
  return { task: m[1] as string, n: Number(m[2]) };
}
