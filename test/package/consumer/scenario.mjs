// The scenario both plain consumers run, on whichever build of the package they loaded
// (`memory.mjs` imports it, `memory.cjs` requires it): a workflow on the memory runtime, then
// the dynamodb-local backend, which needs the emulators these projects lack.
export async function runScenario(pkg, recorder, sessionId, name) {
  const { defineWorkflow, TriggersError, createTestRuntime } = pkg;
  const greeting = defineWorkflow('greeting', {
    t_greet: { after: ['hello'], run: 'greet' },
    t_shout: { after: ['t_greet'], run: 'shout' },
  });
  const handlers = {
    greet: ({ kwargs }) => ({ greeting: `hello ${kwargs.hello.name}` }),
    shout: ({ kwargs }) => ({ shouted: kwargs.t_greet.greeting.toUpperCase() }),
  };

  const runtime = await createTestRuntime({ workflow: greeting, handlers });
  const session = runtime.session(sessionId);
  await session.fire('hello', { name });
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
  return { instances, unresolvedTasks, emulatorsMissing, loads: recorder.loads() };
}
