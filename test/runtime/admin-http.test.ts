/**
 * The manager API's routes through the HTTP core (`createHttpApi`) over the memory backend:
 * per-session configuration, instance metadata, resolving logs (and the session view's
 * `unresolvedLogs`) and setting a status by hand; every success, and every refusal answered
 * with the field named and nothing written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApi, type HttpResponse } from '../../lib/core/http.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { defineWorkflow, type SessionView, type TaskInstance } from '../../lib/index.ts';
import type { ChangeRecord } from '../../lib/store/memory-store.ts';
import { MemoryRunner } from '../../lib/testing/memory.ts';

const SETTLE_MS = 5_000;

const ops = defineWorkflow('ops', {
  t_fail: { after: ['go'], run: 'failing' },
  t_next: { after: ['t_fail'], run: 'passThru' },
  t_wait: { after: ['go', 'later'], run: 'passThru' },
});
const logs = defineWorkflow('logs', {
  t_warn: { after: ['go'], run: 'warner' },
  t_err: { after: ['go'], run: 'errorLogger' },
  t_quiet: { after: ['go'], run: 'passThru' },
});
const slow = defineWorkflow('slow', { t_slow: { after: ['go'], run: 'slow' } });

interface World {
  registry: WorkflowRegistry;
  runner: MemoryRunner;
  api: ReturnType<typeof createHttpApi>;
  /** Every change the store made since the world was created (or since `changes.length = 0`). */
  changes: ChangeRecord[];
  /** Lets the `slow` handler return. */
  release: () => void;
}

const worlds: World[] = [];

afterEach(() => {
  for (const w of worlds.splice(0)) {
    w.release();
    w.runner.close();
  }
});

function world(): World {
  const registry = new WorkflowRegistry([ops, logs, slow], 'ops');
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const runner = new MemoryRunner(
    registry,
    {
      failing: () => {
        throw new Error('broken on purpose');
      },
      passThru: (ctx) => ({ kwargs: ctx.kwargs }),
      warner: (ctx) => {
        ctx.logger.warn('odd input', { field: 'age' });
        return {};
      },
      errorLogger: (ctx) => {
        ctx.logger.error('upstream said no');
        return {};
      },
      slow: async () => {
        await gate;
        return { done: 'by handler' };
      },
    },
    () => {},
  );
  const changes: ChangeRecord[] = [];
  runner.store.subscribe((change) => {
    changes.push(change);
  });
  const api = createHttpApi({ store: runner.store, registry, clock: runner.clock });
  const w = { registry, runner, api, changes, release: () => release() };
  worlds.push(w);
  return w;
}

function call(w: World, method: string, path: string, body?: unknown): Promise<HttpResponse> {
  return w.api.handle({
    method,
    path,
    headers: { 'content-type': 'application/json' },
    body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const instancePath = (sessionId: string, instance: string, action: string): string =>
  `/sessions/${sessionId}/instances/${encodeURIComponent(instance)}/${action}`;

function json<T = Record<string, unknown>>(res: HttpResponse): T {
  return JSON.parse(res.body) as T;
}

function errorOf(res: HttpResponse): { code: string; message: string } {
  return json<{ error: { code: string; message: string } }>(res).error;
}

async function fireAndSettle(w: World, sessionId: string, body: unknown): Promise<void> {
  const res = await call(w, 'POST', `/sessions/${sessionId}/events`, body);
  expect(res.status).toBe(202);
  await w.runner.settle(SETTLE_MS);
}

async function view(w: World, sessionId: string): Promise<SessionView> {
  const res = await call(w, 'GET', `/sessions/${sessionId}`);
  expect(res.status).toBe(200);
  return json<SessionView>(res);
}

async function instanceOf(w: World, sessionId: string, name: string): Promise<TaskInstance> {
  const found = (await view(w, sessionId)).instances.find((i) => i.name === name);
  expect(found, `${name} exists`).toBeDefined();
  return found as TaskInstance;
}

/** What the store holds for a session: enough to tell that nothing was written. */
async function stored(w: World, sessionId: string) {
  return {
    head: await w.runner.store.getHead(sessionId),
    events: await w.runner.store.listEvents(sessionId),
    instances: await w.runner.store.listInstances(sessionId),
  };
}

describe('POST /sessions/{sessionId}/configuration', () => {
  it('answers 200 with the session and the version it runs under from then on', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go' });
    const deployed = (await view(w, 's1')).workflowVersion;

    const res = await call(w, 'POST', '/sessions/s1/configuration', {
      tasks: { t_extra: { after: ['more'], run: 'passThru' } },
    });
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(200);
    const body = json<{ sessionId: string; workflowVersion: string }>(res);
    expect(body).toEqual({ sessionId: 's1', workflowVersion: expect.any(String) });
    expect(body.workflowVersion).not.toBe(deployed);
    expect((await view(w, 's1')).workflowVersion).toBe(body.workflowVersion);

    await fireAndSettle(w, 's1', { trigger: 'more', kwargs: { n: 1 } });
    expect((await instanceOf(w, 's1', 't_extra#0')).result).toEqual({ kwargs: { more: { n: 1 } } });
  });

  it('creates a session that does not exist, under the default workflow or the one named', async () => {
    const w = world();
    const tasks = { t_extra: { after: ['more'], run: 'passThru' } };

    const byDefault = await call(w, 'POST', '/sessions/new1/configuration', { tasks });
    const named = await call(w, 'POST', '/sessions/new2/configuration', {
      tasks,
      workflow: 'logs',
    });
    await w.runner.settle(SETTLE_MS);

    expect([byDefault.status, named.status]).toEqual([200, 200]);
    const first = await view(w, 'new1');
    expect(first).toMatchObject({ workflow: 'ops', instances: [], unresolvedLogs: [] });
    expect(first.unresolvedTasks).toEqual(['t_extra', 't_fail', 't_next', 't_wait']);
    expect(first.workflowVersion).toBe(json(byDefault).workflowVersion);
    const second = await view(w, 'new2');
    expect(second).toMatchObject({ workflow: 'logs', instances: [] });
    expect(second.unresolvedTasks).toEqual(['t_err', 't_extra', 't_quiet', 't_warn']);
  });

  it('gives the same version to the same configuration of the same workflow', async () => {
    const w = world();
    const tasks = { t_extra: { after: ['more'], run: 'passThru' } };

    const a = await call(w, 'POST', '/sessions/a/configuration', { tasks });
    const b = await call(w, 'POST', '/sessions/b/configuration', { tasks });

    expect(json(a).workflowVersion).toBe(json(b).workflowVersion);
  });

  it('answers 404 for a workflow the deployment does not serve, writing nothing', async () => {
    const w = world();

    const res = await call(w, 'POST', '/sessions/fresh/configuration', {
      tasks: { t_extra: { after: ['more'], run: 'passThru' } },
      workflow: 'nope',
    });
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(404);
    expect(errorOf(res).message).toContain('nope');
    expect(w.changes).toEqual([]);
    expect(await stored(w, 'fresh')).toEqual({ head: undefined, events: [], instances: [] });
  });
});

describe('PATCH /sessions/{sessionId}/instances/{instance}/metadata', () => {
  it('answers 202 and merges the metadata at the top level, the status unchanged', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go' });

    const first = await call(w, 'PATCH', instancePath('s1', 't_fail#0', 'metadata'), {
      metadata: { ticket: 'OPS-1', owner: { name: 'ana' } },
    });
    const second = await call(w, 'PATCH', instancePath('s1', 't_fail#0', 'metadata'), {
      metadata: { owner: { name: 'bo' } },
    });
    await w.runner.settle(SETTLE_MS);

    expect([first.status, second.status]).toEqual([202, 202]);
    const after = await instanceOf(w, 's1', 't_fail#0');
    expect(after.status).toBe('failed');
    expect(after.metadata).toEqual({ ticket: 'OPS-1', owner: { name: 'bo' } });
  });
});

describe('POST /sessions/{sessionId}/instances/{instance}/resolve-logs', () => {
  it('answers 202 and takes the instance out of the unresolvedLogs of GET /sessions/{sessionId}', async () => {
    const w = world();
    await fireAndSettle(w, 'noisy', { trigger: 'go', workflow: 'logs' });
    expect((await view(w, 'noisy')).unresolvedLogs).toEqual(['t_err#0', 't_warn#0']);

    const res = await call(w, 'POST', instancePath('noisy', 't_warn#0', 'resolve-logs'));
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(202);
    const after = await view(w, 'noisy');
    expect(after.unresolvedLogs).toEqual(['t_err#0']);
    const warned = after.instances.find((i) => i.name === 't_warn#0');
    expect(warned).toMatchObject({ status: 'finished', logLevel: 'warn', logsResolved: true });
  });
});

describe('POST /sessions/{sessionId}/instances/{instance}/status', () => {
  it('answers 202, and finished with a cascade runs the dependant with cascadeKwargs', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go' });

    const res = await call(w, 'POST', instancePath('s1', 't_fail#0', 'status'), {
      status: 'finished',
      metadata: { by: 'ops' },
      cascade: true,
      cascadeKwargs: { fixed: true },
    });
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(202);
    expect(await instanceOf(w, 's1', 't_fail#0')).toMatchObject({
      status: 'finished',
      metadata: { by: 'ops' },
    });
    expect((await instanceOf(w, 's1', 't_next#0')).result).toEqual({
      kwargs: { t_fail: { fixed: true } },
    });
  });

  it('answers 409 while the instance is running, writing nothing', async () => {
    const w = world();
    await call(w, 'POST', '/sessions/busy/events', { trigger: 'go', workflow: 'slow' });
    const deadline = Date.now() + SETTLE_MS;
    while ((await w.runner.store.getInstance('busy', 't_slow#0'))?.status !== 'running') {
      if (Date.now() > deadline) throw new Error('t_slow#0 never started running');
      await new Promise((r) => setTimeout(r, 5));
    }
    const before = await stored(w, 'busy');
    w.changes.length = 0;

    const res = await call(w, 'POST', instancePath('busy', 't_slow#0', 'status'), {
      status: 'finished',
    });

    expect(res.status).toBe(409);
    expect(errorOf(res).message).toContain('running');
    expect(w.changes).toEqual([]);
    expect(await stored(w, 'busy')).toEqual(before);
    w.release();
    await w.runner.settle(SETTLE_MS);
    expect((await instanceOf(w, 'busy', 't_slow#0')).result).toEqual({ done: 'by handler' });
  });
});

/** A request refused on session `s1`, where `go` failed `t_fail#0` and left `t_wait#0` waiting. */
interface Refusal {
  name: string;
  method: 'POST' | 'PATCH';
  path: string;
  body?: unknown;
  status: number;
  /** What the error message must name: the field, the key or the handler. */
  names: string;
}

const deep = (levels: number): Record<string, unknown> =>
  levels === 0 ? {} : { d: deep(levels - 1) };

const manyTasks = Object.fromEntries(
  Array.from({ length: 201 }, (_, i) => [`t_${i}`, { after: ['go'], run: 'passThru' }]),
);

const metadataPath = instancePath('s1', 't_fail#0', 'metadata');
const statusPath = instancePath('s1', 't_fail#0', 'status');
const configurationPath = '/sessions/s1/configuration';

const refusals: Refusal[] = [
  // Metadata.
  {
    name: 'metadata is not an object',
    method: 'PATCH',
    path: metadataPath,
    body: { metadata: ['a'] },
    status: 400,
    names: 'metadata',
  },
  {
    name: 'metadata is missing',
    method: 'PATCH',
    path: metadataPath,
    body: {},
    status: 400,
    names: 'metadata',
  },
  {
    name: 'metadata holds a __proto__ key',
    method: 'PATCH',
    path: metadataPath,
    body: '{"metadata":{"__proto__":{"polluted":true}}}',
    status: 400,
    names: '__proto__',
  },
  {
    name: 'metadata nests too deep',
    method: 'PATCH',
    path: metadataPath,
    body: { metadata: deep(40) },
    status: 400,
    names: 'metadata',
  },
  {
    name: 'metadata is over 64 KiB',
    method: 'PATCH',
    path: metadataPath,
    body: { metadata: { pad: 'x'.repeat(70 * 1024) } },
    status: 400,
    names: 'metadata',
  },
  {
    name: 'the metadata body has an unknown field',
    method: 'PATCH',
    path: metadataPath,
    body: { metadata: {}, status: 'finished' },
    status: 400,
    names: 'status',
  },
  {
    name: 'metadata names an unknown instance',
    method: 'PATCH',
    path: instancePath('s1', 't_fail#7', 'metadata'),
    body: { metadata: { a: 1 } },
    status: 404,
    names: 't_fail#7',
  },
  {
    name: 'metadata names an unknown session',
    method: 'PATCH',
    path: instancePath('nobody', 't_fail#0', 'metadata'),
    body: { metadata: { a: 1 } },
    status: 404,
    names: 'nobody',
  },
  // Resolve-logs.
  {
    name: 'resolve-logs has a body field',
    method: 'POST',
    path: instancePath('s1', 't_fail#0', 'resolve-logs'),
    body: { force: true },
    status: 400,
    names: 'force',
  },
  {
    name: 'resolve-logs names an unknown instance',
    method: 'POST',
    path: instancePath('s1', 't_next#0', 'resolve-logs'),
    status: 404,
    names: 't_next#0',
  },
  // Status.
  {
    name: 'the status is not one of the statuses',
    method: 'POST',
    path: statusPath,
    body: { status: 'done' },
    status: 400,
    names: 'status',
  },
  {
    name: 'the status is one only the runtime sets',
    method: 'POST',
    path: statusPath,
    body: { status: 'running' },
    status: 400,
    names: 'status',
  },
  {
    name: 'cascade comes without finished',
    method: 'POST',
    path: statusPath,
    body: { status: 'skipped', cascade: true },
    status: 400,
    names: 'cascade',
  },
  {
    name: 'cascadeKwargs are not an object',
    method: 'POST',
    path: statusPath,
    body: { status: 'finished', cascade: true, cascadeKwargs: 3 },
    status: 400,
    names: 'cascadeKwargs',
  },
  {
    name: 'the status metadata holds a __proto__ key',
    method: 'POST',
    path: statusPath,
    body: '{"status":"finished","metadata":{"__proto__":{"polluted":true}}}',
    status: 400,
    names: '__proto__',
  },
  {
    name: 'the status body has an unknown field',
    method: 'POST',
    path: statusPath,
    body: { status: 'finished', force: true },
    status: 400,
    names: 'force',
  },
  {
    name: 'the status names an unknown instance',
    method: 'POST',
    path: instancePath('s1', 't_next#0', 'status'),
    body: { status: 'finished' },
    status: 404,
    names: 't_next#0',
  },
  // Configuration.
  {
    name: 'the configuration has no tasks',
    method: 'POST',
    path: configurationPath,
    body: {},
    status: 400,
    names: 'tasks',
  },
  {
    name: 'the configuration has an unknown field',
    method: 'POST',
    path: configurationPath,
    body: { tasks: { t_x: { after: ['go'], run: 'passThru' } }, extra: 1 },
    status: 400,
    names: 'extra',
  },
  {
    name: 'the configuration holds more than 200 tasks',
    method: 'POST',
    path: configurationPath,
    body: { tasks: manyTasks },
    status: 400,
    names: 'tasks',
  },
  {
    name: 'the configuration names a handler the deployment does not have',
    method: 'POST',
    path: configurationPath,
    body: { tasks: { t_x: { after: ['go'], run: 'noSuchHandler' } } },
    status: 400,
    names: 'noSuchHandler',
  },
  {
    name: 'the configuration holds a task that can never run',
    method: 'POST',
    path: configurationPath,
    body: { tasks: { t_orphan: { after: [], run: 'passThru' } } },
    status: 400,
    names: 't_orphan',
  },
  {
    name: 'the configuration holds a task config with a __proto__ key',
    method: 'POST',
    path: configurationPath,
    body: '{"tasks":{"t_x":{"after":["go"],"run":"passThru","__proto__":{"polluted":true}}}}',
    status: 400,
    names: '__proto__',
  },
];

describe('a refused request', () => {
  it.each(refusals)('answers $status when $name, naming it, and writes nothing', async (r) => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go' });
    const before = await stored(w, 's1');
    w.changes.length = 0;

    const res = await call(w, r.method, r.path, r.body);
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(r.status);
    expect(res.headers['content-type']).toBe('application/json');
    expect(errorOf(res).message).toContain(r.names);
    expect(w.changes).toEqual([]);
    expect(await stored(w, 's1')).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
