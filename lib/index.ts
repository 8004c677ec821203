/**
 * serverless-triggers: declare tasks with `after`, `andEvery`, `unless` and `withParams`; fire
 * named triggers into a session from anywhere; each task runs exactly when its conditions hold.
 *
 * @module
 */

export {
  EnvironmentError,
  runtimeFromEnv,
  type TriggersApp,
} from './adapters/aws-lambda/environment.ts';
export {
  type TaskHandlerOptions,
  type TaskLambdaRuntime,
  taskHandler,
} from './adapters/aws-lambda/task-handler.ts';
export {
  type ApiClientOptions,
  type FireOptions,
  type SkipOptions,
  type StaleOptions,
  type TableClientOptions,
  TriggersClient,
} from './client/client.ts';
export {
  type VersionedEngine,
  WorkflowRegistry,
  type WorkflowRegistryOptions,
} from './core/registry.ts';
export {
  publishWorkflowVersions,
  WorkflowVersionNotFoundError,
  type WorkflowVersionSource,
  type WorkflowVersionStore,
  workflowVersion,
} from './core/versions.ts';
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
