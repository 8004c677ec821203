/**
 * The pre-bundled timer function: `handler` over the deployment's workflows, built at
 * cold start.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { runtimeFromEnv } from '../environment.ts';
import { createTimerHandler } from '../timer.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createTimerHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
