/**
 * The HTTP API core (`createHttpApi`) over a real in-memory runtime, and the ingest Lambda
 * adapter (`createIngestHandler`) with API Gateway HTTP API 2.0 events: every route's success,
 * every refusal of the contract, and that a refused request writes nothing.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  createIngestHandler,
  isHttpApiEventV2,
} from '../../lib/adapters/aws-lambda/api-gateway.ts';
import { systemClock } from '../../lib/core/clock.ts';
import { createHttpApi, type HttpResponse, MAX_BODY_BYTES } from '../../lib/core/http.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { defineWorkflow, type SessionView, type TaskHandler } from '../../lib/index.ts';
import { type ChangeRecord, MemoryStore } from '../../lib/store/memory-store.ts';
import type { HeadRecord } from '../../lib/store/port.ts';
import { MemoryRunner } from '../../lib/testing/memory.ts';
import { lambdaContext } from './fixtures.ts';

const SETTLE_MS = 5_000;

/** Fails when the `go` trigger was fired with `{ fail: true }`, else returns what it got. */
const flaky: TaskHandler = (ctx) => {
  if (ctx.kwargs.go?.fail === true) throw new Error('flaky failed on demand');
  return { got: ctx.kwargs };
};
const passThru: TaskHandler = (ctx) => ({ kwargs: ctx.kwargs });

const chain = defineWorkflow('chain', {
  t_a: { after: ['go'], run: 'flaky' },
  t_b: { after: ['t_a'], run: 'passThru' },
});
const solo = defineWorkflow('solo', { t_x: { after: ['go'], run: 'passThru' } });
const pair = defineWorkflow('pair', {
  t_p: { after: ['a', 'b'], unless: ['stop'], run: 'passThru' },
  t_q: { after: ['t_p'], andEvery: 'page', run: 'passThru', withParams: { page: { size: 10 } } },
});

interface World {
  registry: WorkflowRegistry;
  runner: MemoryRunner;
  api: ReturnType<typeof createHttpApi>;
  logs: LogEntry[];
  /** Every change the store made since the world was created (or since `changes.length = 0`). */
  changes: ChangeRecord[];
}

function world(): World {
  const registry = new WorkflowRegistry([chain, solo, pair], 'chain');
  const logs: LogEntry[] = [];
  const sink = (entry: LogEntry) => {
    logs.push(entry);
  };
  const runner = new MemoryRunner(registry, { flaky, passThru }, sink);
  const changes: ChangeRecord[] = [];
  runner.store.subscribe((change) => {
    changes.push(change);
  });
  const api = createHttpApi({ store: runner.store, registry, clock: runner.clock, log: sink });
  return { registry, runner, api, logs, changes };
}

function call(w: World, method: string, path: string, body?: unknown): Promise<HttpResponse> {
  return w.api.handle({
    method,
    path,
    headers: { 'content-type': 'application/json' },
    body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const post = (w: World, path: string, body?: unknown) => call(w, 'POST', path, body);
const get = (w: World, path: string) => call(w, 'GET', path);

function json<T = Record<string, unknown>>(res: { body?: string }): T {
  return JSON.parse(res.body ?? '') as T;
}

function errorOf(res: HttpResponse): { code: string; message: string } {
  return json<{ error: { code: string; message: string } }>(res).error;
}

/** Fires through the API and lets the runtime run every task it can. */
async function fireAndSettle(w: World, sessionId: string, body: unknown): Promise<void> {
  const res = await post(w, `/sessions/${sessionId}/events`, body);
  expect(res.status).toBe(202);
  await w.runner.settle(SETTLE_MS);
}

async function view(w: World, sessionId: string): Promise<SessionView> {
  const res = await get(w, `/sessions/${sessionId}`);
  expect(res.status).toBe(200);
  return json<SessionView>(res);
}

async function statusOf(w: World, sessionId: string, instance: string): Promise<string> {
  return (await view(w, sessionId)).instances.find((i) => i.name === instance)?.status ?? 'none';
}

/** What the store holds for a session: enough to tell that nothing was written. */
async function stored(w: World, sessionId: string) {
  return {
    head: await w.runner.store.getHead(sessionId),
    instances: await w.runner.store.listInstances(sessionId),
    pending: await w.runner.store.pendingEvents(sessionId),
  };
}

/** A body of exactly `bytes` bytes that fires `go`. */
function bodyOfSize(bytes: number): string {
  const empty = JSON.stringify({ trigger: 'go', kwargs: { pad: '' } });
  return JSON.stringify({ trigger: 'go', kwargs: { pad: 'x'.repeat(bytes - empty.length) } });
}

describe('POST /sessions/{sessionId}/events', () => {
  it('accepts a fire with 202 and answers the session id, a generated event id and duplicate false', async () => {
    const w = world();

    const res = await post(w, '/sessions/s1/events', { trigger: 'go', kwargs: { n: 1 } });

    expect(res.status).toBe(202);
    expect(res.headers['content-type']).toBe('application/json');
    const body = json(res);
    expect(body).toEqual({ sessionId: 's1', eventId: expect.any(String), duplicate: false });
    expect(body.eventId).not.toBe('');
    const pending = await w.runner.store.pendingEvents('s1');
    expect(pending).toMatchObject([
      { eventId: body.eventId, kind: 'fire', trigger: 'go', kwargs: { n: 1 }, source: 'api' },
    ]);
  });

  it('answers duplicate true to the second fire with the same event id and stores it once', async () => {
    const w = world();
    const fire = { trigger: 'go', eventId: 'go-once' };

    const first = await post(w, '/sessions/s1/events', fire);
    const second = await post(w, '/sessions/s1/events', fire);
    await w.runner.settle(SETTLE_MS);

    expect(json(first)).toEqual({ sessionId: 's1', eventId: 'go-once', duplicate: false });
    expect(second.status).toBe(202);
    expect(json(second)).toEqual({ sessionId: 's1', eventId: 'go-once', duplicate: true });
    expect((await view(w, 's1')).fired.go).toEqual({ count: 1 });
  });

  it('creates the session with the workflow the body names', async () => {
    const w = world();

    await fireAndSettle(w, 's1', { trigger: 'go', workflow: 'solo' });

    const v = await view(w, 's1');
    expect(v.workflow).toBe('solo');
    expect(v.instances.map((i) => [i.name, i.status])).toEqual([['t_x#0', 'finished']]);
  });

  it('percent-decodes the session id in the path', async () => {
    const w = world();

    const res = await post(w, '/sessions/survey%3A42/events', { trigger: 'go' });

    expect(res.status).toBe(202);
    expect(json(res).sessionId).toBe('survey:42');
    expect(await w.runner.store.pendingEvents('survey:42')).toHaveLength(1);
  });

  it('accepts an empty body as an empty object, which still needs a trigger', async () => {
    const w = world();

    const res = await post(w, '/sessions/s1/events', undefined);

    expect(res.status).toBe(400);
    expect(errorOf(res)).toEqual({ code: 'VALIDATION', message: "'trigger' is required" });
  });

  it('accepts a body of exactly 256 KiB', async () => {
    const w = world();
    const body = bodyOfSize(MAX_BODY_BYTES);
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);

    const res = await post(w, '/sessions/s1/events', body);

    expect(res.status).toBe(202);
  });

  it('measures a base64 body after decoding it, and parses the decoded text', async () => {
    const w = world();
    const decoded = bodyOfSize(MAX_BODY_BYTES - 10);
    const encoded = Buffer.from(decoded).toString('base64');
    expect(encoded.length).toBeGreaterThan(MAX_BODY_BYTES);

    const res = await w.api.handle({
      method: 'POST',
      path: '/sessions/s1/events',
      headers: {},
      body: encoded,
      isBase64Encoded: true,
    });

    expect(res.status).toBe(202);
    const [event] = await w.runner.store.pendingEvents('s1');
    expect(event).toMatchObject({ trigger: 'go' });
  });
});

describe('GET /sessions/{sessionId}', () => {
  it('answers 200 with the session view: workflow, fired counts, instances and what is unresolved', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });

    const res = await get(w, '/sessions/s1');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const v = json<SessionView>(res);
    expect(Object.keys(v).sort()).toEqual(
      [
        'fired',
        'instances',
        'sessionId',
        'unresolvedInstances',
        'unresolvedLogs',
        'unresolvedTasks',
        'workflow',
        'workflowVersion',
      ].sort(),
    );
    expect(v).toMatchObject({
      sessionId: 's1',
      workflow: 'chain',
      fired: { go: { count: 1 } },
      unresolvedTasks: ['t_a', 't_b'],
      unresolvedInstances: ['t_a#0'],
    });
    expect(v.instances).toMatchObject([
      {
        name: 't_a#0',
        task: 't_a',
        status: 'failed',
        kwargs: { go: { fail: true } },
        error: { type: 'Error', message: 'flaky failed on demand' },
        attempt: 0,
      },
    ]);
  });

  it('reports every instance finished and nothing unresolved once the chain ran', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go' });

    const v = await view(w, 's1');

    expect(v.instances.map((i) => [i.name, i.status])).toEqual([
      ['t_a#0', 'finished'],
      ['t_b#0', 'finished'],
    ]);
    expect(v.unresolvedTasks).toEqual([]);
    expect(v.unresolvedInstances).toEqual([]);
  });
});

describe('GET /sessions/{sessionId}: what unstarted instances wait for', () => {
  it('lists, per unstarted instance, the after and andEvery triggers not fired into it yet', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'a', workflow: 'pair' });
    await fireAndSettle(w, 's1', { trigger: 'page', kwargs: { n: 1 } });

    const v = await view(w, 's1');

    expect(v.instances.map((i) => [i.name, i.status, i.waitingFor])).toEqual([
      ['t_p#0', 'unstarted', ['b']],
      ['t_q#0', 'unstarted', ['t_p']],
    ]);
    await fireAndSettle(w, 's1', { trigger: 'b' });
    const after = await view(w, 's1');
    expect(after.instances.map((i) => [i.name, i.status])).toEqual([
      ['t_p#0', 'finished'],
      ['t_q#0', 'finished'],
    ]);
    for (const i of after.instances) expect(i).not.toHaveProperty('waitingFor');
  });
});

describe('GET /sessions/{sessionId}/events', () => {
  it('answers the timeline in accept order: fires, cascades, control requests, each applied', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true }, eventId: 'e-go' });
    await post(w, '/sessions/s1/instances/t_a%230/skip', { cascade: true, result: { score: 1 } });
    await w.runner.settle(SETTLE_MS);

    const res = await get(w, '/sessions/s1/events');

    expect(res.status).toBe(200);
    const body = json<{ sessionId: string; events: Array<Record<string, unknown>> }>(res);
    expect(body.sessionId).toBe('s1');
    expect(body.events.map((e) => [e.seq, e.kind, e.source, e.trigger ?? e.instance])).toEqual([
      [1, 'fire', 'api', 'go'],
      [2, 'skip', 'control', 't_a#0'],
      [3, 'fire', 'cascade', 't_a'],
      // t_b, which no task listens to, writes no cascade.
    ]);
    expect(body.events[0]).toMatchObject({ eventId: 'e-go', kwargs: { fail: true } });
    expect(body.events[1]).toMatchObject({ cascade: true, result: { score: 1 } });
    expect(body.events[2]).toMatchObject({ kwargs: { score: 1 } });
    for (const e of body.events) {
      expect(typeof e.firedAt).toBe('string');
      expect(e.applied).toBe(true);
    }
    expect(body).toMatchObject({ appliedCount: 3, appliedAt: expect.any(String) });
  });

  it('shows a retry clone request and a replay request with its replacement kwargs', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });
    await post(w, '/sessions/s1/instances/t_a%230/replay', { kwargs: { go: { fail: false } } });
    await w.runner.settle(SETTLE_MS);

    const events = json<{ events: Array<Record<string, unknown>> }>(
      await get(w, '/sessions/s1/events'),
    ).events;

    expect(events[1]).toMatchObject({
      kind: 'replay',
      source: 'control',
      instance: 't_a#0',
      kwargs: { go: { fail: false } },
    });
  });

  it('answers 404 for a session with no event', async () => {
    const w = world();
    const res = await get(w, '/sessions/nobody/events');
    expect(res.status).toBe(404);
    expect(errorOf(res).message).toContain("'nobody'");
  });
});

describe('GET /workflows', () => {
  it('describes every workflow served, with each task as declared, and the default', async () => {
    const w = world();

    const res = await get(w, '/workflows');

    expect(res.status).toBe(200);
    const body = json<{ defaultWorkflow: string; workflows: Array<{ name: string }> }>(res);
    expect(body.defaultWorkflow).toBe('chain');
    expect(body.workflows.map((wf) => wf.name)).toEqual(['chain', 'solo', 'pair']);
    expect(body.workflows[2]).toEqual({
      name: 'pair',
      tasks: [
        { name: 't_p', after: ['a', 'b'], unless: ['stop'], run: 'passThru', maxRetries: 3 },
        {
          name: 't_q',
          after: ['t_p'],
          andEvery: 'page',
          unless: [],
          run: 'passThru',
          maxRetries: 3,
          withParams: { page: { size: 10 } },
        },
      ],
    });
  });
});

describe('POST /sessions/{sessionId}/instances/{instance}/replay', () => {
  it('accepts the replay of a failed instance named URL-encoded, and the clone runs with the replacement kwargs', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });

    const res = await post(w, '/sessions/s1/instances/t_a%230/replay', {
      kwargs: { go: { fail: false } },
    });
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(202);
    expect(json(res)).toEqual({});
    const v = await view(w, 's1');
    expect(v.instances.map((i) => [i.name, i.status])).toEqual([
      ['t_a#0', 'replayed'],
      ['t_a#1', 'finished'],
      ['t_b#0', 'finished'],
    ]);
    expect(v.instances[1]).toMatchObject({ parent: 't_a#0', kwargs: { go: { fail: false } } });
  });

  it('accepts a replay with no body, keeping the instance kwargs', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });

    const res = await post(w, '/sessions/s1/instances/t_a%230/replay', undefined);
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(202);
    expect(await statusOf(w, 's1', 't_a#0')).toBe('replayed');
    expect(await statusOf(w, 's1', 't_a#1')).toBe('failed');
  });
});

describe('POST /sessions/{sessionId}/instances/{instance}/skip', () => {
  it('accepts the skip of a failed instance and cascades its result when asked', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });

    const res = await post(w, '/sessions/s1/instances/t_a%230/skip', {
      cascade: true,
      result: { score: 1 },
    });
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(202);
    expect(json(res)).toEqual({});
    const v = await view(w, 's1');
    expect(v.instances).toMatchObject([
      { name: 't_a#0', status: 'skipped' },
      { name: 't_b#0', status: 'finished', kwargs: { t_a: { score: 1 } } },
    ]);
  });

  it('skips without cascading when cascade is not set', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });

    const res = await post(w, '/sessions/s1/instances/t_a%230/skip', {});
    await w.runner.settle(SETTLE_MS);

    expect(res.status).toBe(202);
    const v = await view(w, 's1');
    expect(v.instances.map((i) => [i.name, i.status])).toEqual([['t_a#0', 'skipped']]);
  });
});

interface Refusal {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  base64?: boolean;
  status: number;
  code: string;
  allow?: string;
}

const oversized = bodyOfSize(MAX_BODY_BYTES + 1);

/** Requests refused before anything exists; `fresh` is the session they name. */
const refusedOnAFreshSession: Refusal[] = [
  {
    name: 'the body is not valid JSON',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: '{"trigger": ',
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'the body is a JSON array',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: '[{"trigger":"go"}]',
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the body is JSON null',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: 'null',
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the body is a JSON string',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: '"go"',
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the trigger is a number',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 42 },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the kwargs are an array',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 'go', kwargs: [1] },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the trigger name has a space',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 'bad name!' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the trigger name has the reserved #',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 't_a#0' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the event id has a space',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 'go', eventId: 'an id' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the body has an unknown field',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 'go', colour: 'red' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the body names the session id the path owns',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 'go', sessionId: 'elsewhere' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the session id in the path decodes to a space',
    method: 'POST',
    path: '/sessions/fresh%20one/events',
    body: { trigger: 'go' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the session id in the path is longer than 256 characters',
    method: 'POST',
    path: `/sessions/${'s'.repeat(257)}/events`,
    body: { trigger: 'go' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the path has a malformed percent escape',
    method: 'POST',
    path: '/sessions/fresh%ZZ/events',
    body: { trigger: 'go' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the workflow is unknown',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: { trigger: 'go', workflow: 'nope' },
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'the body is one byte over 256 KiB',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: oversized,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'the body is over 256 KiB and not even JSON',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: `{${'x'.repeat(MAX_BODY_BYTES)}`,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'the body has fewer characters than 256 KiB but more bytes',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: JSON.stringify({ trigger: 'go', kwargs: { pad: 'é'.repeat(MAX_BODY_BYTES / 2) } }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'the base64 body decodes to over 256 KiB',
    method: 'POST',
    path: '/sessions/fresh/events',
    body: Buffer.from(oversized).toString('base64'),
    base64: true,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'the session to read does not exist',
    method: 'GET',
    path: '/sessions/fresh',
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'the session id to read is invalid',
    method: 'GET',
    path: '/sessions/fresh%20one',
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'a replay names a session that does not exist',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/replay',
    body: {},
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'a skip names a session that does not exist',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/skip',
    body: {},
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'a replay names an instance without a number',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a/replay',
    body: {},
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'a replay has kwargs whose values are not objects',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/replay',
    body: { kwargs: { go: 1 } },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'a replay has a skip field',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/replay',
    body: { cascade: true },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'a replay body names the instance the path owns',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/replay',
    body: { instance: 't_a#1' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'a skip body carries an event id, which the contract does not define',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/skip',
    body: { eventId: 'skip-1' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the session id segment is empty',
    method: 'POST',
    path: '/sessions//events',
    body: { trigger: 'go' },
    status: 404,
    code: 'ROUTE_NOT_FOUND',
  },
  {
    name: 'a skip has a cascade that is not a boolean',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/skip',
    body: { cascade: 'yes' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'a skip has a result that is not an object',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/skip',
    body: { result: 3 },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the route does not exist',
    method: 'GET',
    path: '/nope',
    status: 404,
    code: 'ROUTE_NOT_FOUND',
  },
  {
    name: 'the instance action does not exist',
    method: 'POST',
    path: '/sessions/fresh/instances/t_a%230/retry',
    body: {},
    status: 404,
    code: 'ROUTE_NOT_FOUND',
  },
  {
    name: 'the path has a trailing slash',
    method: 'POST',
    path: '/sessions/fresh/events/',
    body: { trigger: 'go' },
    status: 404,
    code: 'ROUTE_NOT_FOUND',
  },
  {
    name: 'a session is deleted',
    method: 'DELETE',
    path: '/sessions/fresh',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    allow: 'GET',
  },
  {
    name: 'events are deleted',
    method: 'DELETE',
    path: '/sessions/fresh/events',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    allow: 'POST, GET',
  },
  {
    name: 'a workflow is posted',
    method: 'POST',
    path: '/workflows',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    allow: 'GET',
  },
  {
    name: 'a replay is PUT',
    method: 'PUT',
    path: '/sessions/fresh/instances/t_a%230/replay',
    body: {},
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    allow: 'POST',
  },
];

describe('a refused request on a session that does not exist', () => {
  it.each(refusedOnAFreshSession)(
    'answers $status $code when $name, and writes nothing',
    async (r) => {
      const w = world();

      const res = await w.api.handle({
        method: r.method,
        path: r.path,
        headers: { 'content-type': 'application/json' },
        body: r.body === undefined || typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
        isBase64Encoded: r.base64 === true,
      });
      await w.runner.settle(SETTLE_MS);

      expect(res.status).toBe(r.status);
      expect(res.headers['content-type']).toBe('application/json');
      const error = errorOf(res);
      expect(error.code).toBe(r.code);
      expect(error.message).toMatch(/\w/);
      expect(res.headers.allow).toBe(r.allow);
      expect(w.changes).toEqual([]);
      expect(await stored(w, 'fresh')).toEqual({ head: undefined, instances: [], pending: [] });
      expect(w.logs).toEqual([]);
    },
  );
});

/** Requests refused on a session where `go` ran: `done` finished everything, `broken` failed t_a#0. */
const refusedOnAnExistingSession: Array<Refusal & { session: 'done' | 'broken' }> = [
  {
    name: 'a finished instance is replayed',
    session: 'done',
    method: 'POST',
    path: '/sessions/done/instances/t_a%230/replay',
    body: {},
    status: 409,
    code: 'INSTANCE_NOT_FAILED',
  },
  {
    name: 'a finished instance is skipped',
    session: 'done',
    method: 'POST',
    path: '/sessions/done/instances/t_b%230/skip',
    body: { cascade: true },
    status: 409,
    code: 'INSTANCE_NOT_FAILED',
  },
  {
    name: 'a replay names an instance the session does not have',
    session: 'broken',
    method: 'POST',
    path: '/sessions/broken/instances/t_a%237/replay',
    body: {},
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'a skip names an instance the session does not have',
    session: 'broken',
    method: 'POST',
    path: '/sessions/broken/instances/t_b%230/skip',
    body: {},
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'the replay body of a failed instance is not valid JSON',
    session: 'broken',
    method: 'POST',
    path: '/sessions/broken/instances/t_a%230/replay',
    body: '{kwargs: {}}',
    status: 400,
    code: 'INVALID_JSON',
  },
  {
    name: 'the replay kwargs of a failed instance are not an object',
    session: 'broken',
    method: 'POST',
    path: '/sessions/broken/instances/t_a%230/replay',
    body: { kwargs: 'go' },
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'the skip body of a failed instance is over 256 KiB',
    session: 'broken',
    method: 'POST',
    path: '/sessions/broken/instances/t_a%230/skip',
    body: JSON.stringify({ cascade: true, result: { pad: 'x'.repeat(MAX_BODY_BYTES) } }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'the skip of a failed instance has an unknown field',
    session: 'broken',
    method: 'POST',
    path: '/sessions/broken/instances/t_a%230/skip',
    body: { cascade: true, kwargs: {} },
    status: 400,
    code: 'VALIDATION',
  },
];

describe('a refused request on a session that exists', () => {
  it.each(refusedOnAnExistingSession)(
    'answers $status $code when $name, and leaves the session as it was',
    async (r) => {
      const w = world();
      await fireAndSettle(w, r.session, {
        trigger: 'go',
        kwargs: { fail: r.session === 'broken' },
      });
      const before = await stored(w, r.session);
      w.changes.length = 0;

      const res = await post(w, r.path, r.body);
      await w.runner.settle(SETTLE_MS);

      expect(res.status).toBe(r.status);
      expect(errorOf(res).code).toBe(r.code);
      expect(w.changes).toEqual([]);
      expect(await stored(w, r.session)).toEqual(before);
      expect(before.pending).toEqual([]);
    },
  );

  it('names the instance and its status in the 409 message', async () => {
    const w = world();
    await fireAndSettle(w, 's1', { trigger: 'go' });

    const res = await post(w, '/sessions/s1/instances/t_a%230/skip', {});

    expect(errorOf(res)).toEqual({
      code: 'INSTANCE_NOT_FAILED',
      message:
        "cannot skip instance 't_a#0': it is finished, and only a failed instance can be skipped",
    });
  });
});

/** A store that cannot read session heads, as a broken database connection would. */
class UnreachableHeadStore extends MemoryStore {
  override async getHead(): Promise<HeadRecord | undefined> {
    throw new Error('connect ECONNREFUSED 10.0.3.7:8000 (table triggers-prod-secret)');
  }
}

describe('an unexpected failure', () => {
  function brokenApi() {
    const logs: LogEntry[] = [];
    const api = createHttpApi({
      store: new UnreachableHeadStore(),
      registry: new WorkflowRegistry([chain]),
      clock: systemClock,
      log: (entry) => {
        logs.push(entry);
      },
    });
    return { api, logs };
  }

  it('answers 500 INTERNAL with a generic message that leaks nothing', async () => {
    const { api } = brokenApi();

    const res = await api.handle({
      method: 'GET',
      path: '/sessions/s1',
      headers: {},
      body: undefined,
    });

    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/json');
    expect(errorOf(res)).toEqual({ code: 'INTERNAL', message: 'internal error' });
    expect(res.body).not.toMatch(/ECONNREFUSED|10\.0\.3\.7|secret|at .*\.ts/);
  });

  it('is logged as one structured error entry with the cause and the request', async () => {
    const { api, logs } = brokenApi();

    await api.handle({
      method: 'POST',
      path: '/sessions/s1/instances/t_a%230/replay',
      headers: {},
      body: '{}',
    });

    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'error',
      method: 'POST',
      path: '/sessions/s1/instances/t_a%230/replay',
      timestamp: expect.any(String),
      error: { type: 'Error', message: expect.stringContaining('ECONNREFUSED') },
    });
  });
});

/** An API Gateway HTTP API payload 2.0 event as AWS delivers it to the ingest Lambda. */
function httpApiEvent(
  method: string,
  rawPath: string,
  opts: { body?: string; isBase64Encoded?: boolean; stage?: string } = {},
): APIGatewayProxyEventV2 {
  const stage = opts.stage ?? '$default';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      'content-length': String(Buffer.byteLength(opts.body ?? '')),
      'content-type': 'application/json',
      host: 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'triggers-test/1.0',
      'x-amzn-trace-id': 'Root=1-67891233-abcdef012345678912345678',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'a1b2c3d4e5',
      domainName: 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'a1b2c3d4e5',
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'triggers-test/1.0',
      },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: '$default',
      stage,
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 1767225600000,
    },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    isBase64Encoded: opts.isBase64Encoded ?? false,
  };
}

function ingestWorld() {
  const w = world();
  const handler = createIngestHandler({
    store: w.runner.store,
    registry: w.registry,
    clock: w.runner.clock,
  });
  const invoke = (event: unknown) => handler(event, lambdaContext());
  return { w, invoke };
}

function lambdaError(res: APIGatewayProxyStructuredResultV2): { code: string; message: string } {
  return json<{ error: { code: string; message: string } }>(res).error;
}

describe('the ingest Lambda', () => {
  it('fires a trigger from an HTTP API event and answers 202 in the payload 2.0 result shape', async () => {
    const { w, invoke } = ingestWorld();

    const res = await invoke(
      httpApiEvent('POST', '/sessions/s1/events', {
        body: JSON.stringify({ trigger: 'go', eventId: 'e-1' }),
      }),
    );

    expect(res).toEqual({
      statusCode: 202,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId: 's1', eventId: 'e-1', duplicate: false }),
      isBase64Encoded: false,
    });
    expect(await w.runner.store.pendingEvents('s1')).toHaveLength(1);
  });

  it('reads a session through a named stage, whose segment leads the raw path', async () => {
    const { w, invoke } = ingestWorld();
    await fireAndSettle(w, 's1', { trigger: 'go' });

    const res = await invoke(httpApiEvent('GET', '/prod/sessions/s1', { stage: 'prod' }));

    expect(res.statusCode).toBe(200);
    expect(json<SessionView>(res)).toMatchObject({ sessionId: 's1', workflow: 'chain' });
  });

  it('replays a failed instance named URL-encoded in the raw path', async () => {
    const { w, invoke } = ingestWorld();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });

    const res = await invoke(
      httpApiEvent('POST', '/sessions/s1/instances/t_a%230/replay', {
        body: JSON.stringify({ kwargs: { go: {} } }),
      }),
    );
    await w.runner.settle(SETTLE_MS);

    expect(res.statusCode).toBe(202);
    expect(await statusOf(w, 's1', 't_a#1')).toBe('finished');
  });

  it('skips a failed instance from a base64-encoded body', async () => {
    const { w, invoke } = ingestWorld();
    await fireAndSettle(w, 's1', { trigger: 'go', kwargs: { fail: true } });
    const body = Buffer.from(JSON.stringify({ cascade: true, result: { ok: 1 } })).toString(
      'base64',
    );

    const res = await invoke(
      httpApiEvent('POST', '/sessions/s1/instances/t_a%230/skip', { body, isBase64Encoded: true }),
    );
    await w.runner.settle(SETTLE_MS);

    expect(res.statusCode).toBe(202);
    expect(await statusOf(w, 's1', 't_b#0')).toBe('finished');
  });

  it('answers 413 to a body over 256 KiB without writing', async () => {
    const { w, invoke } = ingestWorld();

    const res = await invoke(httpApiEvent('POST', '/sessions/s1/events', { body: oversized }));

    expect(res.statusCode).toBe(413);
    expect(lambdaError(res).code).toBe('PAYLOAD_TOO_LARGE');
    expect(w.changes).toEqual([]);
  });

  it('answers 405 with an allow header', async () => {
    const { invoke } = ingestWorld();

    const res = await invoke(httpApiEvent('PATCH', '/sessions/s1'));

    expect(res.statusCode).toBe(405);
    expect(res.headers).toMatchObject({ allow: 'GET' });
  });

  const notHttpApiEvents: Array<[string, unknown]> = [
    [
      'a REST API (payload 1.0) event',
      {
        resource: '/sessions/{sessionId}',
        path: '/sessions/s1',
        httpMethod: 'GET',
        headers: {},
        requestContext: { httpMethod: 'GET', path: '/prod/sessions/s1', stage: 'prod' },
        body: null,
        isBase64Encoded: false,
      },
    ],
    ['an SQS event', { Records: [{ messageId: 'm1', body: '{}', eventSource: 'aws:sqs' }] }],
    ['a 2.0 event without requestContext.http', { version: '2.0', rawPath: '/sessions/s1' }],
    ['null', null],
    ['a string', 'GET /sessions/s1'],
  ];

  it.each(notHttpApiEvents)('answers 400 to %s, without throwing or writing', async (_, event) => {
    const { w, invoke } = ingestWorld();

    const res = await invoke(event);

    expect(res.statusCode).toBe(400);
    expect(lambdaError(res).code).toBe('UNSUPPORTED_EVENT');
    expect(w.changes).toEqual([]);
  });

  it('recognises an HTTP API 2.0 event and nothing else', () => {
    expect(isHttpApiEventV2(httpApiEvent('GET', '/sessions/s1'))).toBe(true);
    expect(isHttpApiEventV2({ ...httpApiEvent('GET', '/sessions/s1'), version: '1.0' })).toBe(
      false,
    );
  });
});
