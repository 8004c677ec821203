/**
 * The `triggers` CLI (`runCli`) against a real HTTP server: `createHttpApi` over a
 * `MemoryRunner`, served with node:http on a free loopback port. Fire, inspect, replay, skip,
 * graph, and the one-line errors with their exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/main.ts';
import { createHttpApi } from '../../lib/core/http.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import {
  defineWorkflow,
  type SessionEvent,
  type SessionView,
  type TaskHandler,
  TriggersClient,
} from '../../lib/index.ts';
import { MemoryRunner } from '../../lib/testing/memory.ts';
import { type CliRun, captureCli, expectOneLineError } from './cli-run.ts';

/** Fails when `go` was fired with `{ fail: true }`. */
const flaky: TaskHandler = (ctx) => {
  if (ctx.kwargs.go?.fail === true) throw new Error('flaky failed on demand');
  return { ok: true };
};
const passThru: TaskHandler = (ctx) => ({ got: ctx.kwargs });

const chain = defineWorkflow('chain', {
  t_a: { after: ['go'], run: 'flaky', maxRetries: 0 },
  t_b: { after: ['t_a'], run: 'passThru' },
});
const pair = defineWorkflow('pair', { t_p: { after: ['a', 'b'], run: 'passThru' } });

let server: Server;
let runner: MemoryRunner;
let apiUrl: string;
let closedUrl: string;
let client: TriggersClient;
let dir: string;

beforeAll(async () => {
  const registry = new WorkflowRegistry([chain, pair], 'chain');
  runner = new MemoryRunner(registry, { flaky, passThru }, () => {});
  const api = createHttpApi({ store: runner.store, registry, clock: runner.clock });
  server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = await api.handle({
        method: req.method ?? 'GET',
        path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname,
        headers: {},
        body: body.length > 0 ? body : undefined,
      });
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new TriggersClient({ apiUrl });

  // A port that was free a moment ago and has nothing listening now.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  dir = mkdtempSync(join(tmpdir(), 'triggers-cli-'));
});

afterAll(async () => {
  runner.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

function cli(
  args: string[],
  opts: { isTTY?: boolean; signal?: AbortSignal; onOutput?: (s: string) => void } = {},
): Promise<Run> {
  return captureCli((io) => runCli(args, io), {
    env: { TRIGGERS_API_URL: apiUrl },
    cwd: dir,
    ...opts,
  });
}

async function settle(): Promise<void> {
  await runner.settle(5_000);
}

function statuses(view: SessionView | undefined): Record<string, string> {
  return Object.fromEntries((view?.instances ?? []).map((i) => [i.name, i.status]));
}

describe('fire', () => {
  it('fires a trigger and says so in text', async () => {
    const run = await cli(['fire', 'f1', 'go', '--kwargs', '{"n":1}']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^fired go into f1 \(event .+\)\n$/);
    await settle();
    expect(statuses(await client.getSession('f1'))).toEqual({
      't_a#0': 'finished',
      't_b#0': 'finished',
    });
  });

  it('answers JSON with --json, and reports a duplicate event id', async () => {
    const args = ['fire', 'f2', 'go', '--event-id', 'e-1', '--json', '--api-url', apiUrl];
    const first = await cli(args);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      sessionId: 'f2',
      trigger: 'go',
      eventId: 'e-1',
      duplicate: false,
    });
    const second = await cli(args);
    expect(JSON.parse(second.stdout)).toMatchObject({ eventId: 'e-1', duplicate: true });
  });

  it('reads --kwargs from @file', async () => {
    writeFileSync(join(dir, 'kwargs.json'), '{"fail":true}');
    const run = await cli(['fire', 'f3', 'go', '--kwargs', '@kwargs.json']);
    expect(run.code).toBe(0);
    await settle();
    const view = await client.getSession('f3');
    expect(view?.instances.find((i) => i.name === 't_a#0')?.kwargs).toEqual({
      go: { fail: true },
    });
  });
});

describe('inspect, replay and skip', () => {
  beforeAll(async () => {
    for (const s of ['r1', 'k1']) {
      expect((await cli(['fire', s, 'go', '--kwargs', '{"fail":true}'])).code).toBe(0);
    }
    await settle();
  });

  it('inspect shows instances with statuses, kwargs and errors, uncoloured off a TTY', async () => {
    const run = await cli(['inspect', 'r1']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('session r1 (workflow chain)');
    expect(run.stdout).toMatch(/t_a#0\s+failed/);
    expect(run.stdout).toContain('kwargs: {"go":{"fail":true}}');
    expect(run.stdout).toContain('error: Error: flaky failed on demand');
    expect(run.stdout).not.toContain('\u001b[');
  });

  it('inspect colours statuses on a TTY or with --color', async () => {
    expect((await cli(['inspect', 'r1'], { isTTY: true })).stdout).toContain('\u001b[31mfailed');
    expect((await cli(['inspect', 'r1', '--color'])).stdout).toContain('\u001b[31mfailed');
  });

  it('inspect --json prints the session view and its events', async () => {
    const run = await cli(['inspect', 'r1', '--json']);
    const view = JSON.parse(run.stdout) as SessionView & { events: SessionEvent[] };
    expect(view.sessionId).toBe('r1');
    expect(statuses(view)).toEqual({ 't_a#0': 'failed' });
    expect(view.events.map((e) => [e.seq, e.kind, e.trigger])).toEqual([[1, 'fire', 'go']]);
  });

  it('inspect shows what an unstarted instance waits for, and the timeline', async () => {
    expect((await cli(['fire', 'w1', 'a', '--workflow', 'pair', '--event-id', 'ev-a'])).code).toBe(
      0,
    );
    await settle();

    const run = await cli(['inspect', 'w1']);

    expect(run.stdout).toMatch(/t_p#0\s+unstarted/);
    expect(run.stdout).toMatch(/^\s+waiting for: b$/m);
    expect(run.stdout).toMatch(/^timeline:\n\s+1 {2}\d\d:\d\d:\d\d\.\d{3} {2}fire {4}a \(api\)$/m);
  });

  it('replay with replacement kwargs clones the failed instance, which finishes', async () => {
    const run = await cli(['replay', 'r1', 't_a#0', '--kwargs', '{"go":{"fail":false}}']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('replay of t_a#0 in r1 requested');
    await settle();
    const view = JSON.parse((await cli(['inspect', 'r1', '--json'])).stdout) as SessionView;
    expect(statuses(view)).toEqual({
      't_a#0': 'replayed',
      't_a#1': 'finished',
      't_b#0': 'finished',
    });
    const timeline = (await cli(['inspect', 'r1'])).stdout.split('timeline:\n')[1] ?? '';
    expect(timeline.split('\n').map((l) => l.replace(/^\s*\d+ {2}\S+ {2}/, ''))).toEqual([
      'fire    go (api) {"fail":true}',
      'replay  t_a#0 (control)',
      'fire    t_a (cascade) {"ok":true}',
      // t_b's cascade is not written: no task listens to t_b.
      '',
    ]);
  });

  it('replaying an instance that is not failed is refused with exit 2', async () => {
    expectOneLineError(await cli(['replay', 'r1', 't_a#0']), 2, /t_a#0/);
  });

  it('skip --cascade --result skips the instance and cascades the result', async () => {
    const run = await cli(['skip', 'k1', 't_a#0', '--cascade', '--result', '{"x":1}', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      sessionId: 'k1',
      instance: 't_a#0',
      action: 'skip',
      cascade: true,
    });
    await settle();
    const view = await client.getSession('k1');
    expect(statuses(view)).toEqual({ 't_a#0': 'skipped', 't_b#0': 'finished' });
    expect(view?.instances.find((i) => i.name === 't_b#0')?.kwargs).toEqual({ t_a: { x: 1 } });
  });
});

describe('watch', () => {
  it('prints each new event and status change, then stops once the session settled', async () => {
    const watching = cli(['watch', 'x1', '--interval', '100', '--until-settled']);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await cli(['fire', 'x1', 'go'])).code).toBe(0);
    await settle();

    const run = await watching;

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('waiting for session x1 to exist...');
    expect(lines.at(-1)).toBe('session x1 settled');
    expect(run.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}#1 fire {4}go \(api\)$/m);
    expect(run.stdout).toMatch(/^\S+ {2}#2 fire {4}t_a \(cascade\)/m);
    expect(run.stdout).toMatch(/^\S+ {2}t_a#0: \S+ -> finished$/m);
    expect(run.stdout).toMatch(/^\S+ {2}t_b#0: \S+ -> finished$/m);
  });

  it('prints one JSON object per change with --json, a failure with its error', async () => {
    expect((await cli(['fire', 'x2', 'go', '--kwargs', '{"fail":true}'])).code).toBe(0);
    await settle();

    const run = await cli(['watch', 'x2', '--until-settled', '--json', '--interval', '100']);

    const records = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toMatchObject({ type: 'event', seq: 1, kind: 'fire', trigger: 'go' });
    expect(records).toContainEqual(
      expect.objectContaining({ type: 'status', instance: 't_a#0', from: null, to: 'failed' }),
    );
    expect(records.at(-1)).toEqual({ type: 'settled', sessionId: 'x2' });
  });

  it('stops when its signal aborts, with exit 0', async () => {
    const stop = new AbortController();
    const run = await cli(['watch', 'never-fired', '--interval', '100'], {
      signal: stop.signal,
      onOutput: () => stop.abort(),
    });
    expect(run).toEqual({
      code: 0,
      stdout: 'waiting for session never-fired to exist...\n',
      stderr: '',
    });
  });

  it('refuses an interval out of range as a usage error (1)', async () => {
    expectOneLineError(await cli(['watch', 's', '--interval', '5']), 1, /--interval/);
  });
});

describe('graph', () => {
  const appSource = (lib: string) => `import { defineWorkflow } from '${lib}';
export const workflows = [
  defineWorkflow('small', {
    t_a: { after: ['go'], run: 'h' },
    t_b: { after: ['t_a'], andEvery: 'page', unless: ['stop'], run: 'h' },
  }),
];
`;

  it('draws the app module as Mermaid with after / andEvery / unless / cascade edges', async () => {
    const lib = pathToFileURL(join(import.meta.dirname, '../../lib/index.ts')).href;
    writeFileSync(join(dir, 'app.ts'), appSource(lib));
    const run = await cli(['graph', '--app', 'app.ts']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('flowchart LR');
    expect(lines).toEqual(
      expect.arrayContaining([
        '  go(["go"])',
        '  t_a["t_a"]',
        '  go -->|after| t_a',
        '  t_a ==>|cascade| t_b',
        '  page -.->|andEvery| t_b',
        '  stop --x|unless| t_b',
      ]),
    );
    expect(lines.filter((l) => l.includes('|'))).toHaveLength(4);
  });

  it('draws DOT with --format dot, and JSON edges with --json', async () => {
    const dot = await cli(['graph', '--app', 'app.ts', '--format', 'dot']);
    expect(dot.stdout).toMatch(/^digraph triggers \{/);
    expect(dot.stdout).toContain('"t_a" -> "t_b" [label="cascade", style=bold];');
    expect(dot.stdout).toContain('"stop" -> "t_b" [label="unless", color=red, arrowhead=tee];');
    const json = JSON.parse((await cli(['graph', 'small', '--app', 'app.ts', '--json'])).stdout);
    expect(json.workflows[0].edges).toContainEqual({ from: 'page', to: 't_b', kind: 'andEvery' });
  });

  it('draws the workflows the API serves when given --api-url and no --app', async () => {
    const run = await cli(['graph', '--api-url', apiUrl, '--json']);
    expect(run.code).toBe(0);
    const graphs = JSON.parse(run.stdout).workflows as Array<{
      workflow: string;
      edges: unknown[];
    }>;
    expect(graphs.map((g) => g.workflow)).toEqual(['chain', 'pair']);
    expect(graphs[0]?.edges).toEqual([
      { from: 'go', to: 't_a', kind: 'after' },
      { from: 't_a', to: 't_b', kind: 'cascade' },
    ]);
    expectOneLineError(await cli(['graph', 'nope', '--api-url', apiUrl]), 1, /API serves no/);
  });

  it('defaults to the survey example', async () => {
    const run = await cli(['graph']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('isEmbeddedApp --x|unless| t_browserMeta');
    expect(run.stdout).toContain('t_importSubject ==>|cascade| t_score');
  });
});

describe('bad input: one line on stderr, a non-zero exit', () => {
  it('invalid JSON is a usage error (1)', async () => {
    expectOneLineError(await cli(['fire', 's', 'go', '--kwargs', '{nope']), 1, /not valid JSON/);
    expectOneLineError(await cli(['fire', 's', 'go', '--kwargs', '[1]']), 1, /JSON object/);
    expectOneLineError(await cli(['fire', 's', 'go', '--kwargs', '@missing.json']), 1, /ENOENT/);
  });

  it('unknown commands, options and missing arguments are usage errors (1)', async () => {
    expectOneLineError(await cli([]), 1, /missing command/);
    expectOneLineError(await cli(['frobnicate']), 1, /unknown command 'frobnicate'/);
    expectOneLineError(await cli(['fire', 's']), 1, /missing <trigger>/);
    expectOneLineError(await cli(['inspect', 's', 'extra']), 1, /unexpected argument 'extra'/);
    expectOneLineError(await cli(['inspect', 's', '--bogus']), 1, /bogus/);
    expectOneLineError(await cli(['fire', 's', 'go', '--cascade']), 1, /does not take --cascade/);
    expectOneLineError(await cli(['graph', '--format', 'svg']), 1, /svg/);
    expectOneLineError(await cli(['graph', '--app', 'nowhere.ts']), 1, /cannot load app module/);
  });

  it('an unknown session is refused (2)', async () => {
    expectOneLineError(await cli(['inspect', 'no-such-session']), 2, /does not exist/);
    expectOneLineError(await cli(['replay', 'no-such-session', 't_a#0']), 2, /.+/);
  });

  it('a request the API refuses as invalid exits 2', async () => {
    expectOneLineError(await cli(['fire', 'bad session', 'go']), 2, /.+/);
  });

  it('an unreachable API exits 3', async () => {
    expectOneLineError(
      await cli(['inspect', 's', '--api-url', closedUrl]),
      3,
      /cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
  });

  it('--help prints usage and exits 0', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: triggers');
  });
});
