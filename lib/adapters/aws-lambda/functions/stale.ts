/**
 * The pre-bundled stale-sessions function: the age and the index come from its environment.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { runtimeFromEnv, settingsFromEnv } from '../environment.ts';
import { createStaleMonitorHandler } from '../stale.ts';
import { deploymentApp } from './deployment.ts';

export const handler = createStaleMonitorHandler(
  runtimeFromEnv(deploymentApp(import.meta.url)),
  settingsFromEnv(process.env),
);
