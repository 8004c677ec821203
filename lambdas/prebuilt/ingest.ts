/** The pre-bundled ingest function: `handler` over the deployment's workflows, built at cold start. */
import { runtimeFromEnv } from '../../lib/runtime/lambda-env.ts';
import { createIngestHandler } from '../ingest.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createIngestHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
