/**
 * `npm run deploy:local [-- --smoke]`: deploys the example stack to a running LocalStack with
 * `cdklocal`, prints the API URL LocalStack serves it on, and with `--smoke` runs the smoke test.
 * May import: anything under lib/, and its siblings.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cdklocalEnv,
  checkLocalStack,
  LocalStackError,
  localStackApiUrl,
  localStackEndpoint,
} from './localstack.ts';

const STACK = 'TriggersSurvey';
const OUTPUTS = join('cdk.out', 'localstack-outputs.json');
const root = new URL('..', import.meta.url).pathname;

function run(command: string, args: string[], env: Record<string, string>): Promise<void> {
  process.stdout.write(`$ ${command} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new LocalStackError(`${command} ${args[0]} ${args[1] ?? ''} exited with ${code}`)),
    );
  });
}

/**
 * Deploys the stack `TriggersSurvey` of `examples/survey/cdk-app.ts` (bootstrap, then deploy) to
 * the LocalStack at `AWS_ENDPOINT_URL` (default http://localhost:4566), which must be running.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--smoke');
  if (unknown.length > 0) throw new LocalStackError(`unknown argument ${unknown.join(' ')}`);
  const endpoint = localStackEndpoint(process.env);
  await checkLocalStack(endpoint);
  process.stdout.write(`LocalStack answers at ${endpoint}\n`);
  const env = cdklocalEnv(process.env);
  await run('npx', ['cdklocal', 'bootstrap'], env);
  await run(
    'npx',
    ['cdklocal', 'deploy', STACK, '--require-approval', 'never', '--outputs-file', OUTPUTS],
    env,
  );
  const outputs = JSON.parse(readFileSync(join(root, OUTPUTS), 'utf8')) as Record<
    string,
    Record<string, string>
  >;
  const deployed = outputs[STACK]?.ApiUrl;
  if (deployed === undefined) throw new LocalStackError(`${OUTPUTS} has no ${STACK}.ApiUrl`);
  const apiUrl = localStackApiUrl(deployed, endpoint);
  process.stdout.write(
    `\nDeployed. API: ${apiUrl}\nSmoke test: npm run smoke -- --api-url ${apiUrl}\n`,
  );
  if (args.includes('--smoke')) {
    await run('npx', ['tsx', 'scripts/smoke.ts', '--api-url', apiUrl], env);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`deploy:local: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
