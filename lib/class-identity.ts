/**
 * `instanceof` across copies of this package (its ES module and CommonJS builds loaded together):
 * shared classes mark their prototypes and are recognised by name along the prototype chain.
 * May import: nothing (base).
 *
 * @module
 */

/** The mark on the prototypes of this package's shared classes, the same in every copy. */
const MARK = Symbol.for('serverless-triggers.class');

/**
 * Marks `cls` as one of the package's shared classes: its instances made by any copy of the
 * package are recognised by `isInstance` in every copy.
 *
 * The package ships an ES module build and a CommonJS build; an application that loads both (an
 * ESM test importing a CommonJS helper, a bundle that resolved the package twice) holds two
 * copies of every class, and a plain `instanceof` says no to an error or a `Retry` made by the
 * other copy. The classes that cross that line (the errors, `Retry`, `Skip`) mark their
 * prototypes with a symbol from the global registry, and answer `instanceof` by their name along
 * the value's prototype chain (`isInstance`).
 *
 * @example
 * markShared(TriggersError);
 */
export function markShared(cls: abstract new (...args: never[]) => unknown): void {
  Object.defineProperty(cls.prototype, MARK, { value: true });
}

/**
 * Whether `value` is an instance of `cls` made by this copy of the package or by another:
 * the usual prototype check, or, for a value carrying the package's mark, a class of the same
 * name along its prototype chain.
 *
 * @example
 * class Skip extends Error {
 *   static [Symbol.hasInstance](value: unknown) { return isInstance(Skip, value); }
 * }
 */
export function isInstance(
  cls: abstract new (...args: never[]) => unknown,
  value: unknown,
): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true;
  if (!(MARK in value)) return false;
  for (
    let proto = Object.getPrototypeOf(value);
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    const ctor = Object.hasOwn(proto, 'constructor') ? proto.constructor : undefined;
    if (typeof ctor === 'function' && ctor.name === cls.name) return true;
  }
  return false;
}
