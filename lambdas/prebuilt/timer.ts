/** The pre-bundled timer function: `handler` over the deployment's workflows, built at cold start. */
import { runtimeFromEnv } from '../../lib/runtime/lambda-env.ts';
import { createTimerHandler } from '../timer.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createTimerHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
