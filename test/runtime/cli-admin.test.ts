/**
 * The CLI's manager commands (`configure`, `metadata`, `resolve-logs`, `set-status`) through
 * `runCli`, against the HTTP API core (`createHttpApi` over a `MemoryRunner`) reached through an
 * in-process fetch: what they change, what they print, and their one-line errors and exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/main.ts';
import { createHttpApi } from '../../lib/core/http.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import {
  defineWorkflow,
  type SessionView,
  type TaskHandler,
  type TaskInstance,
  TriggersClient,
} from '../../lib/index.ts';
import { MemoryRunner } from '../../lib/testing/memory.ts';
import { type CliRun, captureCli, expectOneLineError } from './cli-run.ts';

const handlers: Record<string, TaskHandler> = {
  flaky: ({ kwargs, logger }) => {
    if (kwargs.go?.warn === true) logger.warn('the answers look odd');
    if (kwargs.go?.fail === true) throw new Error('flaky failed on demand');
    return { ok: true };
  },
  passThru: (ctx) => ({ got: ctx.kwargs }),
};
const chain = defineWorkflow('chain', {
  t_a: { after: ['go'], run: 'flaky', maxRetries: 0 },
  t_b: { after: ['t_a'], run: 'passThru' },
});

let runner: MemoryRunner;
let apiFetch: typeof fetch;
let client: TriggersClient;
let dir: string;
let closedUrl: string;

beforeAll(async () => {
  const registry = new WorkflowRegistry([chain], 'chain');
  runner = new MemoryRunner(registry, handlers, () => {});
  const api = createHttpApi({ store: runner.store, registry, clock: runner.clock });
  // The API core in-process: each request the CLI's client built, answered by the real routes.
  apiFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const answer = await api.handle({
      method: init?.method ?? 'GET',
      path: new URL(String(input)).pathname,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof init?.body === 'string' ? init.body : undefined,
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  }) as typeof fetch;
  client = new TriggersClient({ apiUrl: 'http://api.test', fetch: apiFetch });
  dir = mkdtempSync(join(tmpdir(), 'triggers-cli-admin-'));

  // A port that was free a moment ago and has nothing listening now.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(() => {
  runner.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], opts: { fetch?: typeof fetch } = {}): Promise<CliRun> {
  return captureCli((io) => runCli(args, io), {
    env: { TRIGGERS_API_URL: 'http://api.test' },
    cwd: dir,
    fetch: 'fetch' in opts ? opts.fetch : apiFetch,
  });
}

const settle = () => runner.settle(5_000);

async function instance(session: string, name: string): Promise<TaskInstance | undefined> {
  return (await client.getSession(session))?.instances.find((i) => i.name === name);
}

describe('configure', () => {
  it('merges the tasks of @file into the session and prints the version it runs under', async () => {
    expect((await cli(['fire', 'c1', 'go'])).code).toBe(0);
    await settle();
    writeFileSync(
      join(dir, 'extra.json'),
      JSON.stringify({ t_extra: { after: ['more'], run: 'passThru' } }),
    );

    const run = await cli(['configure', 'c1', '--tasks', '@extra.json']);
    expect((await cli(['fire', 'c1', 'more', '--kwargs', '{"n":2}'])).code).toBe(0);
    await settle();

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const view = (await client.getSession('c1')) as SessionView;
    expect(run.stdout).toBe(
      `configured session c1 (1 task: t_extra): it runs workflow version ${view.workflowVersion} from its next event\n`,
    );
    expect(await instance('c1', 't_extra#0')).toMatchObject({
      status: 'finished',
      result: { got: { more: { n: 2 } } },
    });
  });

  it('answers the session and version as JSON with --json, for a new session of --workflow', async () => {
    const run = await cli([
      'configure',
      'c2',
      '--workflow',
      'chain',
      '--tasks',
      '{"t_more":{"after":["go"],"run":"passThru"}}',
      '--json',
    ]);

    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout) as { sessionId: string; workflowVersion: string };
    expect(answer.sessionId).toBe('c2');
    expect(answer.workflowVersion).toMatch(/^[0-9a-f]+$/);
  });

  it('refuses a handler the deployment lacks with exit 2, naming it', async () => {
    expectOneLineError(
      await cli(['configure', 'c3', '--tasks', '{"t_bad":{"after":["go"],"run":"noSuchHandler"}}']),
      2,
      /noSuchHandler/,
    );
  });

  it('needs --tasks, as a JSON object: usage errors (1)', async () => {
    expectOneLineError(await cli(['configure', 'c4']), 1, /configure: --tasks is required/);
    expectOneLineError(await cli(['configure', 'c4', '--tasks', '[1]']), 1, /--tasks.*JSON object/);
    expectOneLineError(await cli(['configure', 'c4', '--tasks', '@nowhere.json']), 1, /ENOENT/);
    expectOneLineError(await cli(['configure']), 1, /missing <session>/);
  });
});

describe('metadata', () => {
  it('merges inline and @file metadata into the instance, top level', async () => {
    expect((await cli(['fire', 'm1', 'go'])).code).toBe(0);
    await settle();
    writeFileSync(join(dir, 'meta.json'), '{"note":"second"}');

    const first = await cli([
      'metadata',
      'm1',
      't_a#0',
      '--metadata',
      '{"by":"ops","note":"first"}',
    ]);
    const second = await cli(['metadata', 'm1', 't_a#0', '--metadata', '@meta.json', '--json']);
    await settle();

    expect(first).toEqual({
      code: 0,
      stdout: 'metadata update of t_a#0 in m1 requested\n',
      stderr: '',
    });
    expect(JSON.parse(second.stdout)).toEqual({
      sessionId: 'm1',
      instance: 't_a#0',
      action: 'metadata',
    });
    expect((await instance('m1', 't_a#0'))?.metadata).toEqual({ by: 'ops', note: 'second' });
  });

  it('needs --metadata (1); an unknown instance is refused (2)', async () => {
    expectOneLineError(await cli(['metadata', 'm1', 't_a#0']), 1, /--metadata is required/);
    expectOneLineError(
      await cli(['metadata', 'm1', 't_a#0', '--metadata', '{x']),
      1,
      /not valid JSON/,
    );
    expectOneLineError(await cli(['metadata', 'm1', 't_a#5', '--metadata', '{"x":1}']), 2, /t_a#5/);
  });
});

describe('resolve-logs', () => {
  it("marks a warning instance's logs resolved", async () => {
    expect((await cli(['fire', 'l1', 'go', '--kwargs', '{"warn":true}'])).code).toBe(0);
    await settle();
    expect((await client.getSession('l1'))?.unresolvedLogs).toEqual(['t_a#0']);

    const run = await cli(['resolve-logs', 'l1', 't_a#0']);
    await settle();

    expect(run).toEqual({ code: 0, stdout: 'logs of t_a#0 in l1 marked resolved\n', stderr: '' });
    expect((await client.getSession('l1'))?.unresolvedLogs).toEqual([]);
    expect((await instance('l1', 't_a#0'))?.logsResolved).toBe(true);
  });

  it('takes no options (1); an unknown session is refused (2)', async () => {
    expectOneLineError(
      await cli(['resolve-logs', 'l1', 't_a#0', '--cascade']),
      1,
      /does not take --cascade/,
    );
    expectOneLineError(await cli(['resolve-logs', 'no-such-session', 't_a#0']), 2, /.+/);
  });
});

describe('set-status', () => {
  it('settles a failed instance as finished, cascading the kwargs given', async () => {
    expect((await cli(['fire', 's1', 'go', '--kwargs', '{"fail":true}'])).code).toBe(0);
    await settle();
    writeFileSync(join(dir, 'stand-in.json'), '{"stand":"in"}');

    const run = await cli([
      'set-status',
      's1',
      't_a#0',
      'finished',
      '--metadata',
      '{"settledBy":"ops"}',
      '--cascade',
      '--cascade-kwargs',
      '@stand-in.json',
    ]);
    await settle();

    expect(run).toEqual({
      code: 0,
      stdout: 'status finished for t_a#0 in s1 (cascading) requested\n',
      stderr: '',
    });
    expect(await instance('s1', 't_a#0')).toMatchObject({
      status: 'finished',
      metadata: { settledBy: 'ops' },
    });
    expect(await instance('s1', 't_b#0')).toMatchObject({
      status: 'finished',
      kwargs: { t_a: { stand: 'in' } },
    });
  });

  it('answers JSON with --json, and sets a status without a cascade', async () => {
    expect((await cli(['fire', 's2', 'go', '--kwargs', '{"fail":true}'])).code).toBe(0);
    await settle();

    const run = await cli(['set-status', 's2', 't_a#0', 'abandoned', '--json']);
    await settle();

    expect(JSON.parse(run.stdout)).toEqual({
      sessionId: 's2',
      instance: 't_a#0',
      action: 'set-status',
      status: 'abandoned',
      cascade: false,
    });
    expect((await instance('s2', 't_a#0'))?.status).toBe('abandoned');
    expect(await instance('s2', 't_b#0')).toBeUndefined();
  });

  it('refuses what the API refuses with exit 2: a status that is not one, cascade without finished', async () => {
    expect((await cli(['fire', 's3', 'go', '--kwargs', '{"fail":true}'])).code).toBe(0);
    await settle();

    expectOneLineError(await cli(['set-status', 's3', 't_a#0', 'done']), 2, /status/);
    expectOneLineError(
      await cli(['set-status', 's3', 't_a#0', 'skipped', '--cascade']),
      2,
      /cascade/,
    );
    expectOneLineError(await cli(['set-status', 's3', 't_z#0', 'finished']), 2, /t_z#0/);
    await settle();
    expect((await instance('s3', 't_a#0'))?.status).toBe('failed');
  });

  it('usage errors (1): a missing status, --cascade-kwargs without --cascade, bad JSON', async () => {
    expectOneLineError(await cli(['set-status', 's3', 't_a#0']), 1, /missing <status>/);
    expectOneLineError(
      await cli(['set-status', 's3', 't_a#0', 'finished', '--cascade-kwargs', '{"a":1}']),
      1,
      /--cascade-kwargs goes with --cascade/,
    );
    expectOneLineError(
      await cli(['set-status', 's3', 't_a#0', 'finished', '--metadata', '"text"']),
      1,
      /--metadata.*JSON object/,
    );
  });

  it('an unreachable API exits 3', async () => {
    expectOneLineError(
      await cli(['set-status', 's3', 't_a#0', 'finished', '--api-url', closedUrl], {
        fetch: undefined,
      }),
      3,
      /cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
  });
});

describe('inspect', () => {
  it("shows unresolved warnings, and the manager's requests in the timeline", async () => {
    expect((await cli(['fire', 'i1', 'go', '--kwargs', '{"warn":true,"fail":true}'])).code).toBe(0);
    await settle();
    const before = (await cli(['inspect', 'i1'])).stdout;
    expect(
      (await cli(['configure', 'i1', '--tasks', '{"t_x":{"after":["x"],"run":"passThru"}}'])).code,
    ).toBe(0);
    expect((await cli(['metadata', 'i1', 't_a#0', '--metadata', '{"by":"ops"}'])).code).toBe(0);
    expect((await cli(['resolve-logs', 'i1', 't_a#0'])).code).toBe(0);
    expect((await cli(['set-status', 'i1', 't_a#0', 'finished', '--cascade'])).code).toBe(0);
    await settle();

    const after = (await cli(['inspect', 'i1'])).stdout;

    expect(before).toMatch(/^\s+logs: warn$/m);
    expect(before).toMatch(/^unresolved logs: t_a#0$/m);
    expect(after).toMatch(/^\s+logs: warn \(resolved\)$/m);
    expect(after).not.toContain('unresolved logs:');
    const timeline = (after.split('timeline:\n')[1] ?? '')
      .split('\n')
      .map((l) => l.replace(/^\s*\d+ {2}\S+ {2}/, ''));
    expect(timeline.slice(0, 5)).toEqual([
      'fire    go (api) {"warn":true,"fail":true}',
      'configure  tasks t_x (control)',
      'metadata  t_a#0 (control) {"by":"ops"}',
      'resolve-logs  t_a#0 (control)',
      'status  t_a#0 -> finished, cascading (control)',
    ]);
  });
});

describe('help', () => {
  it('lists the manager commands with their options', async () => {
    const run = await cli(['--help']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ {2}configure <session> --tasks JSON\|@file \[--workflow W\]$/m);
    expect(run.stdout).toMatch(/^ {2}metadata <session> <instance> --metadata JSON\|@file$/m);
    expect(run.stdout).toMatch(/^ {2}resolve-logs <session> <instance>$/m);
    expect(run.stdout).toMatch(
      /^ {2}set-status <session> <instance> <status> \[--metadata JSON\|@file\]$/m,
    );
    expect(run.stdout).toMatch(/^ {18}\[--cascade\] \[--cascade-kwargs JSON\|@file\]$/m);
  });
});
