// A plain CommonJS consumer: `require`s the package and runs a workflow on the memory runtime,
// then asks for the dynamodb-local backend, which needs the emulators this project lacks.
// Prints what it saw as one JSON line; the package test asserts on it.
async function main() {
  const { recordEmulatorLoads } = await import('./emulator-loads.mjs');
  const recorder = recordEmulatorLoads();
  const { defineWorkflow, TriggersError } = require('serverless-triggers');
  const { createTestRuntime } = require('serverless-triggers/testing');

  const greeting = defineWorkflow('greeting', {
    t_greet: { after: ['hello'], run: 'greet' },
    t_shout: { after: ['t_greet'], run: 'shout' },
  });
  const handlers = {
    greet: ({ kwargs }) => ({ greeting: `hello ${kwargs.hello.name}` }),
    shout: ({ kwargs }) => ({ shouted: kwargs.t_greet.greeting.toUpperCase() }),
  };

  const runtime = await createTestRuntime({ workflow: greeting, handlers });
  const session = runtime.session('cjs-1');
  await session.fire('hello', { name: 'grace' });
  await runtime.settle();
  const instances = (await session.instances()).map(({ name, status, result }) => ({
    name,
    status,
    result,
  }));
  const unresolvedTasks = await session.unresolvedTasks();
  await runtime.close();
  await recorder.mark('memory-done');

  let emulatorsMissing;
  try {
    const local = await createTestRuntime({
      workflow: greeting,
      handlers,
      backend: 'dynamodb-local',
    });
    await local.close();
    emulatorsMissing = { rejected: false };
  } catch (err) {
    emulatorsMissing = {
      rejected: true,
      name: err?.name,
      code: err?.code,
      message: err?.message,
      isTriggersError: err instanceof TriggersError,
    };
  }
  await recorder.mark('end');

  console.log(
    JSON.stringify({
      loadedFrom: require.resolve('serverless-triggers/testing'),
      instances,
      unresolvedTasks,
      emulatorsMissing,
      loads: recorder.loads(),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
