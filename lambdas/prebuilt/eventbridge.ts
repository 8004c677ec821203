/** The pre-bundled EventBridge ingestion function: the mapping comes from its environment. */
import { eventBridgeRuntimeFromEnv } from '../../lib/runtime/eventbridge-env.ts';
import { createEventBridgeHandler } from '../eventbridge.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createEventBridgeHandler(
  eventBridgeRuntimeFromEnv(deploymentApp(import.meta.url)),
);
