/**
 * TriggersClient's manager methods (`configureSession`, `updateInstanceMetadata`,
 * `resolveInstanceLogs`, `setInstanceStatus`): the requests they send and the errors they map,
 * with a fetch that records requests and answers canned responses; then end to end against the
 * HTTP API core (`createHttpApi` over a `MemoryRunner`), reached through an in-process fetch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi } from '../../lib/core/http.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import {
  defineWorkflow,
  InstanceStateError,
  NotAvailableError,
  NotFoundError,
  type SessionView,
  type TaskHandler,
  TriggersClient,
  type TriggersError,
  ValidationError,
} from '../../lib/index.ts';
import { MemoryRunner } from '../../lib/testing/memory.ts';
import { API, apiError, fakeFetch, json } from './fake-fetch.ts';
import { deferred, rejectionOf } from './fixtures.ts';

describe('the manager requests TriggersClient sends', () => {
  it('configureSession posts the tasks and workflow and returns the version answered', async () => {
    const fake = fakeFetch(() => json(200, { sessionId: 'survey:42', workflowVersion: 'abc123' }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });
    const tasks = { t_extra: { after: ['more'], run: 'passThru' } };

    const answer = await client.configureSession('survey:42', tasks, { workflow: 'survey' });

    expect(answer).toEqual({ sessionId: 'survey:42', workflowVersion: 'abc123' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.method).toBe('POST');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/survey%3A42/configuration`);
    expect(fake.requests[0]?.headers['content-type']).toBe('application/json');
    expect(fake.requests[0]?.body).toEqual({ tasks, workflow: 'survey' });
  });

  it('configureSession without a workflow sends the tasks only', async () => {
    const fake = fakeFetch(() => json(200, { sessionId: 's1', workflowVersion: 'v' }));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.configureSession('s1', { t_x: { after: ['go'], run: 'h' } });

    expect(fake.requests[0]?.body).toEqual({
      tasks: { t_x: { after: ['go'], run: 'h' } },
    });
  });

  it("updateInstanceMetadata patches the metadata onto the instance route, '#' encoded", async () => {
    const fake = fakeFetch();
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.updateInstanceMetadata('s1', 't_a#0', { reviewedBy: 'ops' });

    expect(fake.requests[0]?.method).toBe('PATCH');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/s1/instances/t_a%230/metadata`);
    expect(fake.requests[0]?.body).toEqual({ metadata: { reviewedBy: 'ops' } });
  });

  it('resolveInstanceLogs posts to resolve-logs with no body', async () => {
    const fake = fakeFetch();
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.resolveInstanceLogs('s1', 't_a#0');

    expect(fake.requests[0]?.method).toBe('POST');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/s1/instances/t_a%230/resolve-logs`);
    expect(fake.requests[0]?.body).toBeUndefined();
    expect(fake.requests[0]?.headers['content-type']).toBeUndefined();
  });

  it('setInstanceStatus posts the status with metadata, cascade and cascade kwargs', async () => {
    const fake = fakeFetch();
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    await client.setInstanceStatus('s1', 't_a#0', 'finished', {
      metadata: { by: 'ops' },
      cascade: true,
      cascadeKwargs: { score: 0 },
    });
    await client.setInstanceStatus('s1', 't_b#1', 'abandoned');

    expect(fake.requests[0]?.method).toBe('POST');
    expect(fake.requests[0]?.url).toBe(`${API}/sessions/s1/instances/t_a%230/status`);
    expect(fake.requests[0]?.body).toEqual({
      status: 'finished',
      metadata: { by: 'ops' },
      cascade: true,
      cascadeKwargs: { score: 0 },
    });
    expect(fake.requests[1]?.url).toBe(`${API}/sessions/s1/instances/t_b%231/status`);
    expect(fake.requests[1]?.body).toEqual({ status: 'abandoned' });
  });
});

describe('the errors the manager methods map', () => {
  it('a 404 is a NotFoundError with status 404', async () => {
    const fake = fakeFetch(() => apiError(404, 'NOT_FOUND', "instance 't_a#9' does not exist"));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.resolveInstanceLogs('s1', 't_a#9'));

    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as TriggersError).status).toBe(404);
    expect(err.message).toBe("instance 't_a#9' does not exist");
  });

  it('a 409 is an InstanceStateError naming the instance', async () => {
    const message = "instance 't_a#0' is running: its status cannot be set";
    const fake = fakeFetch(() => apiError(409, 'INSTANCE_NOT_FAILED', message));
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const err = await rejectionOf(client.setInstanceStatus('s1', 't_a#0', 'finished'));

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as InstanceStateError).instance).toBe('t_a#0');
    expect((err as TriggersError).status).toBe(409);
    expect(err.message).toBe(message);
  });

  it('a 400 is a ValidationError carrying the message (configuration and metadata alike)', async () => {
    const fake = fakeFetch(() =>
      apiError(400, 'VALIDATION', "'tasks' task 't_x' runs 'nope', but this deployment has none"),
    );
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch });

    const configured = await rejectionOf(
      client.configureSession('s1', { t_x: { after: ['go'], run: 'nope' } }),
    );
    const patched = await rejectionOf(client.updateInstanceMetadata('s1', 't_a#0', {}));

    expect(configured).toBeInstanceOf(ValidationError);
    expect(configured.message).toContain("'nope'");
    expect((configured as TriggersError).status).toBe(400);
    expect(patched).toBeInstanceOf(ValidationError);
  });

  it('the table mode without workflows cannot configure: NotAvailableError, 501, nothing sent', async () => {
    const client = new TriggersClient({
      tableName: 'triggers-sessions',
      region: 'us-east-1',
      // Nothing listens here: a request would fail with a connection error, not the refusal.
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });

    const err = await rejectionOf(
      client.configureSession('s1', { t_x: { after: ['go'], run: 'h' } }),
    );

    expect(err).toBeInstanceOf(NotAvailableError);
    expect(err.message).toContain('workflows');
    expect((err as TriggersError).status).toBe(501);
  });
});

describe('the manager methods against the HTTP API', () => {
  /** Held by `t_hold` until released: keeps an instance running. */
  let gate = deferred();
  const handlers: Record<string, TaskHandler> = {
    flaky: ({ kwargs, logger }) => {
      if (kwargs.go?.warn === true) logger.warn('the answers look odd');
      if (kwargs.go?.fail === true) throw new Error('flaky failed on demand');
      return { ok: true };
    },
    passThru: (ctx) => ({ got: ctx.kwargs }),
    hold: async () => {
      await gate.promise;
      return { held: true };
    },
  };
  const chain = defineWorkflow('chain', {
    t_a: { after: ['go'], run: 'flaky', maxRetries: 0 },
    t_b: { after: ['t_a'], run: 'passThru' },
    t_hold: { after: ['wait'], run: 'hold' },
  });
  const pair = defineWorkflow('pair', { t_p: { after: ['a', 'b'], run: 'passThru' } });

  let runner: MemoryRunner;
  let client: TriggersClient;

  beforeAll(() => {
    const registry = new WorkflowRegistry([chain, pair], 'chain');
    runner = new MemoryRunner(registry, handlers, () => {});
    const api = createHttpApi({ store: runner.store, registry, clock: runner.clock });
    // The API core in-process: the request the client built, answered by the real routes.
    const fetchFn = async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      const answer = await api.handle({
        method: init?.method ?? 'GET',
        path: url.pathname,
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        body: typeof init?.body === 'string' ? init.body : undefined,
      });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    };
    client = new TriggersClient({ apiUrl: 'http://api.test', fetch: fetchFn as typeof fetch });
  });

  afterAll(() => {
    gate.resolve();
    runner.close();
  });

  const settle = () => runner.settle(5_000);
  const instance = (view: SessionView | undefined, name: string) =>
    view?.instances.find((i) => i.name === name);

  it('configureSession merges a task into the session, which runs it on a later fire', async () => {
    await client.fire('c1', 'go');
    await settle();

    const answer = await client.configureSession('c1', {
      t_extra: { after: ['more'], run: 'passThru' },
    });
    await client.fire('c1', 'more', { n: 1 });
    await settle();

    expect(answer.sessionId).toBe('c1');
    expect(answer.workflowVersion).toMatch(/^[0-9a-f]+$/);
    const view = await client.getSession('c1');
    expect(view?.workflowVersion).toBe(answer.workflowVersion);
    expect(instance(view, 't_extra#0')).toMatchObject({
      status: 'finished',
      result: { got: { more: { n: 1 } } },
    });
  });

  it('configureSession naming a handler the deployment lacks is a ValidationError naming it', async () => {
    const err = await rejectionOf(
      client.configureSession('c2', { t_bad: { after: ['go'], run: 'noSuchHandler' } }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('noSuchHandler');
    expect(await client.getSession('c2')).toBeUndefined();
  });

  it('configureSession for a new session of an unknown workflow is a NotFoundError', async () => {
    const err = await rejectionOf(
      client.configureSession(
        'c3',
        { t_x: { after: ['go'], run: 'passThru' } },
        {
          workflow: 'nope',
        },
      ),
    );

    expect(err).toBeInstanceOf(NotFoundError);
  });

  it('updateInstanceMetadata merges at the top level', async () => {
    await client.fire('m1', 'go');
    await settle();

    await client.updateInstanceMetadata('m1', 't_a#0', { reviewedBy: 'ops', note: 'first' });
    await client.updateInstanceMetadata('m1', 't_a#0', { note: 'second' });
    await settle();

    expect(instance(await client.getSession('m1'), 't_a#0')?.metadata).toEqual({
      reviewedBy: 'ops',
      note: 'second',
    });
  });

  it('resolveInstanceLogs takes a warning instance out of unresolvedLogs', async () => {
    await client.fire('l1', 'go', { warn: true });
    await settle();
    const before = await client.getSession('l1');
    expect(before?.unresolvedLogs).toEqual(['t_a#0']);

    await client.resolveInstanceLogs('l1', 't_a#0');
    await settle();

    const after = await client.getSession('l1');
    expect(after?.unresolvedLogs).toEqual([]);
    expect(instance(after, 't_a#0')?.logsResolved).toBe(true);
  });

  it('setInstanceStatus settles a failed instance as finished and cascades its kwargs', async () => {
    await client.fire('s1', 'go', { fail: true });
    await settle();

    await client.setInstanceStatus('s1', 't_a#0', 'finished', {
      metadata: { settledBy: 'ops' },
      cascade: true,
      cascadeKwargs: { stand: 'in' },
    });
    await settle();

    const view = await client.getSession('s1');
    expect(instance(view, 't_a#0')).toMatchObject({
      status: 'finished',
      metadata: { settledBy: 'ops' },
    });
    expect(instance(view, 't_b#0')).toMatchObject({
      status: 'finished',
      kwargs: { t_a: { stand: 'in' } },
    });
  });

  it('setInstanceStatus refuses a running instance with an InstanceStateError (409)', async () => {
    gate = deferred();
    await client.fire('s2', 'wait');
    await expect
      .poll(async () => instance(await client.getSession('s2'), 't_hold#0')?.status, {
        timeout: 5_000,
      })
      .toBe('running');

    const err = await rejectionOf(client.setInstanceStatus('s2', 't_hold#0', 'abandoned'));
    gate.resolve();
    await settle();

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as TriggersError).status).toBe(409);
    expect((err as InstanceStateError).instance).toBe('t_hold#0');
    expect(instance(await client.getSession('s2'), 't_hold#0')?.status).toBe('finished');
  });

  it('setInstanceStatus with cascade to a status other than finished is a ValidationError', async () => {
    await client.fire('s3', 'go', { fail: true });
    await settle();

    const err = await rejectionOf(
      client.setInstanceStatus('s3', 't_a#0', 'skipped', { cascade: true }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('cascade');
    expect(instance(await client.getSession('s3'), 't_a#0')?.status).toBe('failed');
  });

  it('an unknown session or instance is a NotFoundError, for each manager method', async () => {
    await client.fire('n1', 'go');
    await settle();

    const errors = await Promise.all([
      rejectionOf(client.updateInstanceMetadata('n1', 't_a#7', { x: 1 })),
      rejectionOf(client.resolveInstanceLogs('no-such-session', 't_a#0')),
      rejectionOf(client.setInstanceStatus('n1', 't_b#3', 'finished')),
    ]);

    for (const err of errors) {
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as TriggersError).status).toBe(404);
    }
  });
});
