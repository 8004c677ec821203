/**
 * The pre-bundled dispatcher function: `handler` over the deployment's workflows, built at
 * cold start.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { createDispatcherHandler } from '../dispatcher.ts';
import { runtimeFromEnv } from '../environment.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createDispatcherHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
