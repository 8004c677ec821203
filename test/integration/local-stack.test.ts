/**
 * `npm start` (`triggers dev` on the survey example) end to end: the local stack as a child
 * process on a free port (using the test run's emulators through the endpoint variables),
 * driven with the survey example over HTTP,
 * through the `triggers` CLI (fire, inspect, replay, skip) and by the smoke script
 * (`npm run smoke`), the one CI runs against the local stack.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../lib/local/emulators.ts';
import type { SessionView } from '../../lib/types.ts';

let child: ChildProcess | undefined;
let base = '';
let output = '';

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

/** Runs a command to its end; resolves with its exit code and output. */
function exec(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The `triggers` CLI against the child's API: its bin file run the way its shebang runs it
 * (tsx), which is what `npx triggers` starts, minus npx's own start-up.
 */
function triggers(args: string[]) {
  return exec(process.execPath, ['--import', 'tsx', 'bin/triggers.ts', ...args, '--api-url', base]);
}

const statusOf = (v: SessionView | undefined, name: string) =>
  v?.instances.find((i) => i.name === name)?.status;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  base = `http://127.0.0.1:${port}`;
  // In a process group of its own, as in a terminal: Ctrl+C signals npm, tsx and the stack.
  child = spawn('npm', ['start'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
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

/** Signals the child's whole process group, as a terminal's Ctrl+C does. */
function signalGroup(signal: NodeJS.Signals): void {
  if (child?.pid !== undefined) process.kill(-child.pid, signal);
}

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    signalGroup('SIGKILL');
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

  it('lists a session whose instance waits as stale (the local stack keeps the stale index)', async () => {
    // t_importSubject waits for step4: an unstarted instance from now on.
    await post('/sessions/waiting-1/events', { trigger: 'step1', kwargs: { subjectId: 'w' } });

    const stale = await until('the waiting session to be listed', async () => {
      const res = await fetch(`${base}/stale?olderThan=1s`);
      const body = (await res.json()) as { sessions?: Array<{ sessionId: string }> };
      return res.status === 200 && body.sessions?.some((x) => x.sessionId === 'waiting-1')
        ? body
        : undefined;
    });
    expect(stale.sessions?.find((x) => x.sessionId === 'waiting-1')).toBeDefined();
    expect((await fetch(`${base}/stale?olderThan=soon`)).status).toBe(400);
  });

  it('is driven by the triggers CLI: fire, inspect, replay and skip', async () => {
    const f1 = await exec('npx', [
      'triggers',
      'fire',
      'c1',
      'step1',
      '--kwargs',
      '{"userAgent":"cli"}',
      '--api-url',
      base,
    ]);
    expect(f1).toMatchObject({ code: 0, stderr: '' });
    expect(f1.stdout).toMatch(/^fired step1 into c1 \(event [\w-]+\)$/m);
    expect((await triggers(['fire', 'c1', 'step4'])).code).toBe(0);
    await until('the import without a subject to fail', async () =>
      statusOf(await view('c1'), 't_importSubject#0') === 'failed' ? true : undefined,
    );

    const shown = await triggers(['inspect', 'c1']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/t_importSubject#0\s+failed/);
    expect(shown.stdout).toContain('error: Error: step1 carried no subjectId: nothing to import');
    expect(shown.stdout).toMatch(/^timeline:$/m);
    expect(shown.stdout).toMatch(/^\s+1 {2}\S+ {2}fire {4}step1 \(api\) \{"userAgent":"cli"\}$/m);

    const replayed = await triggers([
      'replay',
      'c1',
      't_importSubject#0',
      '--kwargs',
      '{"step1":{"subjectId":"from-cli"}}',
    ]);
    expect(replayed).toMatchObject({ code: 0, stderr: '' });
    const afterReplay = await until('the replayed clone to finish', async () => {
      const v = await view('c1');
      return statusOf(v, 't_importSubject#1') === 'finished' ? v : undefined;
    });
    expect(statusOf(afterReplay, 't_importSubject#0')).toBe('replayed');
    expect(afterReplay.instances.find((i) => i.name === 't_importSubject#1')?.result).toEqual({
      subjectId: 'from-cli',
    });

    await triggers(['fire', 'c2', 'step1', '--kwargs', '{}']);
    await triggers(['fire', 'c2', 'step4']);
    await triggers(['fire', 'c2', 'sessionFinalized']);
    await until('the second import to fail', async () =>
      statusOf(await view('c2'), 't_importSubject#0') === 'failed' ? true : undefined,
    );
    const skipped = await triggers([
      'skip',
      'c2',
      't_importSubject#0',
      '--cascade',
      '--result',
      '{"subjectId":"none"}',
      '--json',
    ]);
    expect(JSON.parse(skipped.stdout)).toEqual({
      sessionId: 'c2',
      instance: 't_importSubject#0',
      action: 'skip',
      cascade: true,
    });
    const afterSkip = await until('the cascade of the skip to reach the score', async () => {
      const v = await view('c2');
      return statusOf(v, 't_score#0') === 'finished' ? v : undefined;
    });
    expect(statusOf(afterSkip, 't_importSubject#0')).toBe('skipped');
    expect(afterSkip.instances.find((i) => i.name === 't_score#0')?.kwargs.t_importSubject).toEqual(
      { subjectId: 'none' },
    );

    const refused = await triggers(['replay', 'c2', 't_importSubject#0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^triggers: [^\n]+\n$/);
  });

  it('passes the smoke script (npm run smoke), as CI runs it against the local stack', async () => {
    const run = await exec('npm', ['run', '--silent', 'smoke', '--', '--api-url', base, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
      ok: boolean;
      checks: Array<{ name: string; ok: boolean }>;
    };
    expect(report.ok).toBe(true);
    expect(report.checks.length).toBeGreaterThanOrEqual(8);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('fails fast with a one-line message when its port is taken', async () => {
    const port = new URL(base).port;
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/triggers.ts', 'dev'],
        { env: { ...process.env, PORT: port }, timeout: 60_000 },
        (err, _stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stderr }),
      );
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^triggers: port ${port} is taken: .*--port`, 'm'));
    expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+\)/);
  });

  it('fails fast saying what to do when Java is missing', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/nonexistent', PORT: '0' };
    delete env.TRIGGERS_DYNAMODB_ENDPOINT;
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/triggers.ts', 'dev'],
        { env, timeout: 60_000 },
        (err, _stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stderr }),
      );
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Java 17.*TRIGGERS_DYNAMODB_ENDPOINT.*LocalStack/s);
  });

  it('answers bad input with 4xx and stops cleanly on SIGTERM', async () => {
    expect((await post('/sessions/bad%20id/events', { trigger: 'x' })).status).toBe(400);
    expect((await post('/sessions/s2/events', { trigger: 'x', workflow: 'nope' })).status).toBe(
      404,
    );

    const exited = once(child as ChildProcess, 'exit') as Promise<[number | null, string | null]>;
    signalGroup('SIGTERM');
    const [code, signal] = await exited;
    // npm ends the way its script ended, or re-raises the signal it forwarded.
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(output).toContain('SIGTERM: stopping');
    expect(output).not.toMatch(/\bat .+:\d+:\d+\)/);
    await until('the port to be released', async () =>
      (await fetch(base).then(
        () => false,
        () => true,
      ))
        ? true
        : undefined,
    );
  });
});
