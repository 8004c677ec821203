/**
 * The pre-bundled EventBridge ingestion function: the mapping comes from its environment.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { createEventBridgeHandler } from '../eventbridge.ts';
import { eventBridgeRuntimeFromEnv } from '../eventbridge-environment.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createEventBridgeHandler(
  eventBridgeRuntimeFromEnv(deploymentApp(import.meta.url)),
);
