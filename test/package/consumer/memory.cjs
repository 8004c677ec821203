// A plain CommonJS consumer: `require`s the package and runs the scenario. Prints what it saw
// as one JSON line; the package test asserts on it.
async function main() {
  const { recordEmulatorLoads } = await import('./emulator-loads.mjs');
  const { runScenario } = await import('./scenario.mjs');
  const recorder = recordEmulatorLoads();
  const pkg = { ...require('serverless-triggers'), ...require('serverless-triggers/testing') };
  const seen = await runScenario(pkg, recorder, 'cjs-1', 'grace');
  console.log(
    JSON.stringify({ loadedFrom: require.resolve('serverless-triggers/testing'), ...seen }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
