/**
 * `npm start -- --persist DIR` (`triggers dev --persist DIR`): sessions outlive the process. The
 * stack runs as a child with a DynamoDB Local of its own (the endpoint variable of the test run
 * is removed for it, so it starts one on the directory), is stopped, and started again on the
 * same directory.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../lib/local/emulators.ts';
import type { SessionView } from '../../lib/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'triggers-persist-'));
let child: ChildProcess | undefined;
let output = '';

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the stack on `dir` with its own DynamoDB Local; resolves with its base URL. */
async function start(): Promise<string> {
  const port = await freeLoopbackPort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  delete env.TRIGGERS_DYNAMODB_ENDPOINT;
  output = '';
  child = spawn(process.execPath, ['--import', 'tsx', 'bin/triggers.ts', 'dev', '--persist', dir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  await until('the stack to start', async () => (output.includes('is up') ? true : undefined));
  return `http://127.0.0.1:${port}`;
}

async function stop(): Promise<void> {
  const exited = once(child as ChildProcess, 'exit');
  child?.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
}

async function statuses(base: string, session: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/sessions/${session}`);
  if (res.status !== 200) return {};
  const view = (await res.json()) as SessionView;
  return Object.fromEntries(view.instances.map((i) => [i.name, i.status]));
}

describe('npm start -- --persist DIR', () => {
  it('keeps sessions across a restart, and their work goes on', async () => {
    const first = await start();
    expect(output).toContain(`sessions   kept in ${dir}`);
    await fetch(`${first}/sessions/p1/events`, {
      method: 'POST',
      body: JSON.stringify({ trigger: 'step1', kwargs: { subjectId: 'kept' } }),
    });
    await until('the first task to finish', async () =>
      (await statuses(first, 'p1'))['t_browserMeta#0'] === 'finished' ? true : undefined,
    );
    await stop();
    expect(readdirSync(dir).some((f) => f.endsWith('.db'))).toBe(true);

    const second = await start();
    expect(await statuses(second, 'p1')).toMatchObject({
      't_browserMeta#0': 'finished',
      't_importSubject#0': 'unstarted',
    });
    await fetch(`${second}/sessions/p1/events`, {
      method: 'POST',
      body: JSON.stringify({ trigger: 'step4' }),
    });
    await until('the subject import to run on the kept session', async () =>
      (await statuses(second, 'p1'))['t_importSubject#0'] === 'finished' ? true : undefined,
    );
    const fired = (await (await fetch(`${second}/sessions/p1`)).json()) as SessionView;
    expect(fired.fired.step1?.count).toBe(1);
    await stop();
  });

  it('refuses an unknown option with a one-line message and exit 2', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bin/triggers.ts', 'dev', '--persist', dir, '--bogus'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^triggers: Unknown option '--bogus'[^\n]*\(see triggers --help\)\n$/,
    );
  });
});
