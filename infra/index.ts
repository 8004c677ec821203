/**
 * `serverless-triggers/cdk`: the CDK construct `Triggers`, its props, and the functions a
 * deployment runs (`TaskHandlerFunction` for the task handlers of an app module).
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
export type { EventMapping } from '../lib/core/eventbridge.ts';
export {
  type PrebuiltFunction,
  TaskHandlerFunction,
  type TaskHandlerFunctionProps,
  TriggersFunction,
  type TriggersFunctionOptions,
  type TriggersFunctionProps,
} from './functions.ts';
export type {
  EventBridgeIngestion,
  EventBridgeIngestionResources,
  LifecycleEventsOptions,
  LifecycleEventsResources,
  StaleSessionsAlarmOptions,
  StaleSessionsOptions,
  StaleSessionsResources,
  TaskHandlerOptions,
  TaskHandlerResources,
  TriggersApiOptions,
  TriggersProps,
  WorkflowVersionResources,
} from './props.ts';
export { Triggers } from './triggers.ts';
