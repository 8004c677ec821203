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
}

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
}
