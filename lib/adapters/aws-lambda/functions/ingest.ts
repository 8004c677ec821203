/**
 * The pre-bundled ingest function: `handler` over the deployment's workflows, built at
 * cold start.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { createIngestHandler } from '../api-gateway.ts';
import { runtimeFromEnv } from '../environment.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createIngestHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
