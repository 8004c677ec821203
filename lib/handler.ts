/**
 * What a task handler throws to steer its instance: `Retry` and `Skip`, recognised by `instanceof`
 * from either build of the package (ES module or CommonJS).
 * May import: base (class-identity, types).
 *
 * @module
 */
import { isInstance, markShared } from './class-identity.ts';
import type { Kwargs } from './types.ts';

/**
 * Thrown by a task handler to run again: the instance becomes `replayed` and a clone
 * `<task>#<n+1>` is scheduled after `cooldownSeconds`, with `replacementKwargs` when given. Once
 * the instance's attempt has reached the task's `maxRetries`, the instance fails with
 * `MaxRetriesExceeded` instead.
 *
 * @example
 * const fetchReport: TaskHandler = async ({ kwargs }) => {
 *   const report = await tryFetch(kwargs);
 *   if (!report) throw new Retry({ cooldownSeconds: 60 });
 *   return { report };
 * };
 */
export class Retry extends Error {
  readonly cooldownSeconds: number | undefined;
  readonly replacementKwargs: Record<string, Kwargs> | undefined;

  constructor(
    opts: {
      cooldownSeconds?: number;
      replacementKwargs?: Record<string, Kwargs>;
      cause?: unknown;
    } = {},
  ) {
    super(
      opts.cooldownSeconds ? `retry in ${opts.cooldownSeconds}s` : 'retry',
      opts.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.name = 'Retry';
    this.cooldownSeconds = opts.cooldownSeconds;
    this.replacementKwargs = opts.replacementKwargs;
  }

  /** `instanceof` for a `Retry` from either build of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInstance(Retry, value);
  }
}
markShared(Retry);

/**
 * Thrown by a task handler to mark its instance `skipped` (no cascade), keeping `metadata`.
 *
 * @example
 * const importPage: TaskHandler = ({ kwargs }) => {
 *   if (kwargs.pageReceived?.empty) throw new Skip({ reason: 'empty page' });
 *   return { imported: true };
 * };
 */
export class Skip extends Error {
  readonly metadata: Kwargs | undefined;

  constructor(metadata?: Kwargs) {
    super('skip');
    this.name = 'Skip';
    this.metadata = metadata;
  }

  /** `instanceof` for a `Skip` from either build of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInstance(Skip, value);
  }
}
markShared(Skip);
