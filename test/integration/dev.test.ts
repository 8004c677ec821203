/**
 * `triggers dev` through `runCli`, in this process, on the test run's emulators (through the
 * endpoint variables): an app module from a temporary folder served on a free port, a fire
 * that runs its task to the end, bodies over the API's limit answered 413, a second stack on
 * the same port refused, and a clean stop when the signal aborts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/main.ts';
import { MAX_BODY_BYTES } from '../../lib/core/http.ts';
import { freeLoopbackPort } from '../../lib/local/emulators.ts';
import type { SessionView } from '../../lib/types.ts';
import { captureCli } from '../runtime/cli-run.ts';

const lib = pathToFileURL(join(import.meta.dirname, '../../lib/index.ts')).href;
const APP = `import { defineWorkflow, Skip, type TaskHandler } from '${lib}';
const greet: TaskHandler = ({ kwargs }) => ({ greeting: \`hello \${String(kwargs.hello?.name)}\` });
const maybe: TaskHandler = () => {
  throw new Skip({ reason: 'nothing to do' });
};
export const workflows = [
  defineWorkflow('greetings', {
    t_greet: { after: ['hello'], run: 'greet' },
    t_maybe: { after: ['t_greet'], run: 'maybe' },
  }),
];
export const handlers = { greet, maybe };
`;

let dir: string;
let base: string;
let port: number;
const stop = new AbortController();
let dev: Promise<number> | undefined;
let stdout = '';
let stderr = '';

/** A second `runCli` that captures its own output. */
const cli = (args: string[], signal?: AbortSignal) =>
  captureCli((io) => runCli(args, io), { env: process.env, cwd: dir, signal });

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stdout}${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function view(session: string): Promise<SessionView | undefined> {
  const res = await fetch(`${base}/sessions/${session}`);
  return res.status === 200 ? ((await res.json()) as SessionView) : undefined;
}

/** A valid fire whose JSON text is `bytes` long. */
function fireOf(bytes: number): string {
  const empty = JSON.stringify({ trigger: 'hello', kwargs: { name: 'big', pad: '' } });
  return JSON.stringify({
    trigger: 'hello',
    kwargs: { name: 'big', pad: 'x'.repeat(bytes - empty.length) },
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'triggers-dev-stack-'));
  writeFileSync(join(dir, 'app.ts'), APP);
  port = await freeLoopbackPort();
  base = `http://127.0.0.1:${port}`;
  dev = runCli(['dev', '--app', 'app.ts', '--port', String(port)], {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: process.env,
    cwd: dir,
    signal: stop.signal,
  });
  let ended: number | undefined;
  void dev.then((code) => {
    ended = code;
  });
  await until('the stack to be up', async () => {
    if (ended !== undefined) throw new Error(`dev ended with ${ended}: ${stderr}`);
    return stdout.includes(`HTTP API   ${base}`) ? true : undefined;
  });
});

afterAll(async () => {
  stop.abort();
  await dev;
  rmSync(dir, { recursive: true, force: true });
});

describe('triggers dev', () => {
  it('prints its URLs, the workflows and where the sessions live', () => {
    expect(stdout).toMatch(/^serverless-triggers local stack is up \(cold start [\d.]+ s\)$/m);
    expect(stdout).toContain(`inspector  ${base}/ui`);
    expect(stdout).toContain('workflows  greetings   (app: app.ts)');
    expect(stdout).toContain('sessions   in memory');
  });

  it('serves the app module: a fire runs its tasks to the end, a Skip included', async () => {
    const res = await fetch(`${base}/sessions/d1/events`, {
      method: 'POST',
      body: JSON.stringify({ trigger: 'hello', kwargs: { name: 'dev' } }),
    });
    expect(res.status).toBe(202);
    const done = await until('both tasks to be resolved', async () => {
      const v = await view('d1');
      return v?.instances.length === 2 && v.unresolvedInstances.length === 0 ? v : undefined;
    });
    const byName = Object.fromEntries(done.instances.map((i) => [i.name, i]));
    expect(byName['t_greet#0']).toMatchObject({
      status: 'finished',
      result: { greeting: 'hello dev' },
    });
    expect(byName['t_maybe#0']?.status).toBe('skipped');
  });

  it('answers a 300 KiB body with 413 PAYLOAD_TOO_LARGE, its size said', async () => {
    const body = fireOf(300 * 1024);
    const res = await fetch(`${base}/sessions/big1/events`, { method: 'POST', body });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: `request body is ${300 * 1024} bytes; the limit is ${MAX_BODY_BYTES}`,
      },
    });
    expect(await view('big1')).toBeUndefined();
  });

  it('answers 413 to a streamed body of unknown length too', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 5) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${base}/sessions/big2/events`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('reads a body of exactly the limit whole', async () => {
    const body = fireOf(MAX_BODY_BYTES);
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
    const res = await fetch(`${base}/sessions/edge1/events`, { method: 'POST', body });
    const answer = (await res.json()) as { error?: { code: string } };
    expect(res.status).not.toBe(413);
    expect(answer.error?.code).not.toBe('INVALID_JSON');
  });

  it('refuses a second stack on the same port with one line and exit 1', async () => {
    const second = await cli(['dev', '--app', 'app.ts', '--port', String(port)]);
    expect(second).toMatchObject({ code: 1, stdout: '' });
    expect(second.stderr).toMatch(new RegExp(`^triggers: port ${port} is taken: [^\\n]+\\n$`));
  });

  it('stops when its signal aborts, releases the port and exits 0', async () => {
    stop.abort();
    expect(await dev).toBe(0);
    expect(stdout).toMatch(/^stopping$/m);
    const refused = await fetch(base).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  });
});
