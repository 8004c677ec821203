// The dual package hazard, in one process: the ES module build and the CommonJS build of the
// package loaded side by side. Errors, `Retry` and `Skip` made by one build are recognised by
// the other (`instanceof`, and a test runtime of the other build steering the instance).
// Prints what it saw as one JSON line; the package test asserts on it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const esm = await import('serverless-triggers');
const esmTesting = await import('serverless-triggers/testing');
const cjs = require('serverless-triggers');
const cjsTesting = require('serverless-triggers/testing');

function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an exception');
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** An invalid fire (a trigger name with a space) on a test runtime of one build. */
async function invalidFire(testing) {
  const runtime = await testing.createTestRuntime({
    workflow: { t: { after: ['go'], run: 'noop' } },
    handlers: { noop: () => ({}) },
  });
  try {
    return await rejection(runtime.session('s').fire('bad trigger'));
  } finally {
    await runtime.close();
  }
}

const cycle = { t_a: { after: ['t_b'], run: 'a' }, t_b: { after: ['t_a'], run: 'a' } };
const made = {
  cjsValidation: new cjs.ValidationError('made by the CommonJS build'),
  esmValidation: new esm.ValidationError('made by the ES module build'),
  cjsFire: await invalidFire(cjsTesting),
  esmFire: await invalidFire(esmTesting),
  cjsWorkflow: thrown(() => cjs.defineWorkflow('cycle', cycle)),
  esmWorkflow: thrown(() => esm.defineWorkflow('cycle', cycle)),
  cjsRetry: new cjs.Retry(),
  esmRetry: new esm.Retry(),
  cjsSkip: new cjs.Skip({ reason: 'cjs' }),
  esmSkip: new esm.Skip({ reason: 'esm' }),
  lookalike: Object.assign(new Error('not from the package'), { name: 'ValidationError' }),
};
const builds = { cjs, esm };

/** `instanceof` of each made value against classes of either build, by `value:build.Class`. */
const checks = [
  ['cjsValidation', 'esm', ['ValidationError', 'TriggersError', 'NotFoundError', 'Retry']],
  ['esmValidation', 'cjs', ['ValidationError', 'TriggersError', 'NotFoundError', 'Retry']],
  ['cjsFire', 'esm', ['ValidationError', 'TriggersError', 'WorkflowError']],
  ['esmFire', 'cjs', ['ValidationError', 'TriggersError', 'WorkflowError']],
  ['cjsWorkflow', 'esm', ['WorkflowError', 'TriggersError', 'ValidationError']],
  ['esmWorkflow', 'cjs', ['WorkflowError', 'TriggersError', 'ValidationError']],
  ['cjsRetry', 'esm', ['Retry', 'Skip', 'TriggersError']],
  ['esmRetry', 'cjs', ['Retry', 'Skip', 'TriggersError']],
  ['cjsSkip', 'esm', ['Skip', 'Retry']],
  ['esmSkip', 'cjs', ['Skip', 'Retry']],
  ['lookalike', 'esm', ['ValidationError', 'TriggersError']],
  ['lookalike', 'cjs', ['ValidationError', 'TriggersError']],
];
const instanceOf = {};
for (const [value, build, classes] of checks) {
  for (const cls of classes) {
    instanceOf[`${value}:${build}.${cls}`] = made[value] instanceof builds[build][cls];
  }
}

/**
 * A test runtime of one build whose handlers throw the other build's `Retry` (on the first
 * attempt) and `Skip`: the statuses of its instances, and the skipped one's metadata.
 */
async function steered(testing, thrower) {
  const runtime = await testing.createTestRuntime({
    workflow: {
      t_retry: { after: ['go'], run: 'retry' },
      t_skip: { after: ['go'], run: 'skip' },
    },
    handlers: {
      retry: ({ attempt }) => {
        if (attempt === 0) throw new thrower.Retry();
        return { attempt };
      },
      skip: () => {
        throw new thrower.Skip({ reason: 'skipped by the other build' });
      },
    },
  });
  try {
    const session = runtime.session('steered');
    await session.fire('go');
    await runtime.settle();
    const instances = await session.instances();
    return {
      statuses: Object.fromEntries(instances.map((i) => [i.name, i.status])),
      skipMetadata: instances.find((i) => i.task === 't_skip')?.metadata,
      errors: instances.filter((i) => i.error !== undefined).map((i) => i.error.message),
    };
  } finally {
    await runtime.close();
  }
}

console.log(
  JSON.stringify({
    twoCopies: {
      ValidationError: cjs.ValidationError !== esm.ValidationError,
      TriggersError: cjs.TriggersError !== esm.TriggersError,
      Retry: cjs.Retry !== esm.Retry,
      Skip: cjs.Skip !== esm.Skip,
      createTestRuntime: cjsTesting.createTestRuntime !== esmTesting.createTestRuntime,
    },
    instanceOf,
    esmRuntimeCjsThrows: await steered(esmTesting, cjs),
    cjsRuntimeEsmThrows: await steered(cjsTesting, esm),
  }),
);
