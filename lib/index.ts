/**
 * serverless-triggers: declare tasks with `after`, `andEvery`, `unless` and `withParams`; fire
 * named triggers into a session from anywhere; each task runs exactly when its conditions hold.
 *
 * @module
 */
export {
  type ApiClientOptions,
  type FireOptions,
  type SkipOptions,
  type StaleOptions,
  type TableClientOptions,
  TriggersClient,
} from './client.ts';
export { defineWorkflow } from './engine/workflow.ts';
export {
  ConflictError,
  EmulatorsMissingError,
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  SettleTimeoutError,
  TriggersError,
  ValidationError,
  WorkflowError,
} from './errors.ts';
export { Retry, Skip } from './handler.ts';
export { EnvironmentError, runtimeFromEnv, type TriggersApp } from './runtime/lambda-env.ts';
export {
  type VersionedEngine,
  WorkflowRegistry,
  type WorkflowRegistryOptions,
} from './runtime/registry.ts';
export {
  type TaskHandlerOptions,
  type TaskLambdaRuntime,
  taskHandler,
} from './runtime/task-handler.ts';
export {
  publishWorkflowVersions,
  WorkflowVersionNotFoundError,
  type WorkflowVersionSource,
  type WorkflowVersionStore,
  workflowVersion,
} from './runtime/versions.ts';
export type {
  Duration,
  InstanceError,
  InstanceStatus,
  Kwargs,
  LogLevel,
  SessionEvent,
  SessionEvents,
  SessionView,
  StaleInstance,
  StaleSession,
  StaleSessions,
  TaskConfig,
  TaskContext,
  TaskHandler,
  TaskInstance,
  TaskLogger,
  TaskSummary,
  TimerConfig,
  TimerView,
  Workflow,
  WorkflowOptions,
  WorkflowsView,
} from './types.ts';
