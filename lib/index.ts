/**
 * serverless-triggers, the package's entry point: declare tasks with `after`, `andEvery`,
 * `unless` and `withParams`; fire named triggers into a session from anywhere; each task runs
 * exactly when its conditions hold.
 * May import: anything under lib/ except local, testing and cli (it re-exports the public API).
 *
 * @module
 */

export { runtimeFromEnv, type TriggersApp } from './adapters/aws-lambda/environment.ts';
export {
  type TaskHandlerOptions,
  type TaskLambdaRuntime,
  taskHandler,
} from './adapters/aws-lambda/task-handler.ts';
export {
  type ApiClientOptions,
  type ConfigureOptions,
  type ConfigureResult,
  type FireOptions,
  type SetStatusOptions,
  type SkipOptions,
  type StaleOptions,
  type TableClientOptions,
  TriggersClient,
} from './client/client.ts';
export {
  type InstanceFailedDetail,
  type InstanceReplayedDetail,
  type InstanceSkippedDetail,
  LIFECYCLE_EVENT_SOURCE,
  type LifecycleDetailType,
  type LifecycleEvent,
  type LifecycleHooks,
  type SessionFinalizedDetail,
  type TriggerFiredDetail,
} from './core/lifecycle.ts';
export {
  type VersionedEngine,
  WorkflowRegistry,
  type WorkflowRegistryOptions,
} from './core/registry.ts';
export { publishWorkflowVersions } from './core/versions.ts';
export { defineWorkflow } from './engine/workflow.ts';
export {
  ConflictError,
  EmulatorsMissingError,
  EnvironmentError,
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  SettleTimeoutError,
  TriggersError,
  ValidationError,
  WorkflowError,
  WorkflowVersionNotFoundError,
} from './errors.ts';
export { Retry, Skip } from './handler.ts';
export type { WorkflowVersionSource, WorkflowVersionStore } from './store/port.ts';
export { workflowVersion } from './store/workflow-version.ts';
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
