/**
 * The pre-bundled evaluator function: `handler` over the deployment's workflows, built at
 * cold start.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { runtimeFromEnv } from '../environment.ts';
import { createEvaluatorHandler } from '../evaluator.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createEvaluatorHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
