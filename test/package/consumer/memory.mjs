// A plain ES module consumer (no TypeScript, no loader): imports the package and runs the
// scenario. Prints what it saw as one JSON line; the package test asserts on it.
import { recordEmulatorLoads } from './emulator-loads.mjs';
import { runScenario } from './scenario.mjs';

const recorder = recordEmulatorLoads();
const pkg = {
  ...(await import('serverless-triggers')),
  ...(await import('serverless-triggers/testing')),
};
const seen = await runScenario(pkg, recorder, 'esm-1', 'ada');
console.log(
  JSON.stringify({ loadedFrom: import.meta.resolve('serverless-triggers/testing'), ...seen }),
);
