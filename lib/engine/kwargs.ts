/**
 * Kwargs as the engine handles them: the plain-object test, the deep merge that makes a handler's
 * kwargs, and own-property reads and writes safe for names such as `__proto__`.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import type { Kwargs } from '../types.ts';

/**
 * True for a plain JSON object (not an array, not null).
 *
 * @example
 * isPlainObject({ a: 1 }); // true
 * isPlainObject([1]); // false
 */
export function isPlainObject(value: unknown): value is Kwargs {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Merges `over` onto `base` recursively: nested objects merge, the value from `over` wins at
 * every level, and anything that is not a plain object (arrays included) replaces.
 *
 * @example
 * mergeDeep({ a: { x: 1, y: 1 } }, { a: { y: 2 } }); // { a: { x: 1, y: 2 } }
 */
export function mergeDeep(base: Kwargs, over: Kwargs): Kwargs {
  const out: Kwargs = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = getOwn(out, key);
    // setOwn, not assignment: a `__proto__` key in user kwargs stays a plain key.
    setOwn(
      out,
      key,
      isPlainObject(prior) && isPlainObject(value) ? mergeDeep(prior, value) : value,
    );
  }
  return out;
}

/**
 * The kwargs a handler receives: the task's `withParams` with the instance's applied trigger
 * kwargs merged over them (the fired value wins at every level); keys of `withParams` that no
 * trigger applied are passed as they are.
 *
 * @example
 * handlerKwargs({ t_a: { foo: 'bar', kwargs: { hacked: true } } }, { t_a: { kwargs: { dataReceived: {} } } });
 * // { t_a: { foo: 'bar', kwargs: { hacked: true, dataReceived: {} } } }
 */
export function handlerKwargs(
  withParams: Readonly<Record<string, Kwargs>>,
  applied: Record<string, Kwargs>,
): Record<string, Kwargs> {
  // A fresh copy: a handler that mutates its kwargs must not change the workflow's withParams.
  return structuredClone(mergeDeep(withParams, applied)) as Record<string, Kwargs>;
}

/**
 * Reads an own property only: trigger and task names such as `constructor` or `__proto__` are
 * valid names, and must never reach `Object.prototype`.
 *
 * @example
 * getOwn({}, 'constructor'); // undefined, not Object
 */
export function getOwn<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Writes an own, enumerable property, even for keys such as `__proto__`.
 *
 * @example
 * setOwn(kwargs, '__proto__', 'e1'); // a plain key; the prototype stays Object.prototype
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
