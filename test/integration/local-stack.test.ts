/**
 * `npm start` end to end: the local stack as a child process on a free port (using the test
 * run's emulators through the endpoint variables), driven over HTTP with the survey example.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../lib/types.ts';

let child: ChildProcess | undefined;
let base = '';
let output = '';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function view(id: string): Promise<SessionView | undefined> {
  const res = await fetch(`${base}/sessions/${id}`);
  return res.status === 200 ? ((await res.json()) as SessionView) : undefined;
}

const statusOf = (v: SessionView | undefined, name: string) =>
  v?.instances.find((i) => i.name === name)?.status;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  await until('the stack to print its URL', async () =>
    output.includes(`http://127.0.0.1:${port}`) ? true : undefined,
  );
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});

describe('npm start', () => {
  it('serves the survey workflow over HTTP, cascades and andEvery included, to the end', async () => {
    expect((await post('/sessions/s1/events', { trigger: 'step4' })).status).toBe(202);
    const fired = await post('/sessions/s1/events', {
      trigger: 'step1',
      kwargs: { subjectId: 'abc' },
      eventId: 'step1-s1',
    });
    expect(fired).toEqual({
      status: 202,
      json: { sessionId: 's1', eventId: 'step1-s1', duplicate: false },
    });
    expect(
      (await post('/sessions/s1/events', { trigger: 'step1', eventId: 'step1-s1' })).json,
    ).toMatchObject({
      duplicate: true,
    });
    await post('/sessions/s1/events', {
      trigger: 'pageReceived',
      kwargs: { page: 1, answers: [3] },
    });
    await post('/sessions/s1/events', { trigger: 'sessionFinalized' });

    const done = await until('the survey to finish', async () => {
      const v = await view('s1');
      return v && v.unresolvedInstances.length === 0 && statusOf(v, 't_score#0') ? v : undefined;
    });
    expect(statusOf(done, 't_importSubject#0')).toBe('finished');
    expect(statusOf(done, 't_importResponses#0')).toBe('finished');
    expect(statusOf(done, 't_browserMeta#0')).toBe('finished');
    expect(statusOf(done, 't_score#0')).toBe('finished');
    expect(done.fired.step1?.count).toBe(1);
  });

  it('answers bad input with 4xx and stops cleanly on SIGTERM', async () => {
    expect((await post('/sessions/bad%20id/events', { trigger: 'x' })).status).toBe(400);
    expect((await post('/sessions/s2/events', { trigger: 'x', workflow: 'nope' })).status).toBe(
      404,
    );

    child?.kill('SIGTERM');
    const [code] = (await once(child as ChildProcess, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
