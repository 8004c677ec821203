/**
 * serverless-triggers: declare tasks with `after`, `andEvery`, `unless` and `withParams`; fire
 * named triggers into a session from anywhere; each task runs exactly when its conditions hold.
 *
 * @module
 */
export { defineWorkflow } from './engine/workflow.ts';
export {
  ConflictError,
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  SettleTimeoutError,
  TriggersError,
  ValidationError,
  WorkflowError,
} from './errors.ts';
export { Retry, Skip } from './handler.ts';
export type {
  Duration,
  InstanceError,
  InstanceStatus,
  Kwargs,
  LogLevel,
  SessionView,
  TaskConfig,
  TaskContext,
  TaskHandler,
  TaskInstance,
  TaskLogger,
  Workflow,
} from './types.ts';
