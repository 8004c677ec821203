/**
 * The pre-bundled lifecycle publisher function (construct option `lifecycleEvents`): the
 * table stream's heads with notes and instance changes in, lifecycle events onto the bus of
 * `TRIGGERS_EVENT_BUS_NAME` out, built at cold start over the deployment's workflows.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { lifecycleRuntimeFromEnv } from '../eventbridge-publisher.ts';
import { handleLifecycleBatch } from '../streams.ts';
import { deploymentApp } from './deployment.ts';

const deps = lifecycleRuntimeFromEnv(deploymentApp(import.meta.url));

export const handler = (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
  handleLifecycleBatch(deps, event);
