/**
 * Stale sessions on the memory backend: `parseDuration`, the in-memory store's `listStale` and
 * `countStale` over heads written by the real ingest and evaluator flows under a controllable
 * clock, `GET /stale` (core and ingest Lambda), `TriggersClient.getStale`, the scheduled
 * function's metric line, and `triggers stale` against a real HTTP server.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../lib/adapters/aws-lambda/api-gateway.ts';
import { settingsFromEnv } from '../../lib/adapters/aws-lambda/environment.ts';
import { createStaleMonitorHandler } from '../../lib/adapters/aws-lambda/stale.ts';
import { ENV } from '../../lib/adapters/aws-lambda/variables.ts';
import { runCli } from '../../lib/cli/main.ts';
import { formatAge } from '../../lib/cli/stale.ts';
import { createHttpApi, type HttpApi, type HttpRequest } from '../../lib/core/http.ts';
import { measureStale, readStale, STALE_QUERY, staleMetricLine } from '../../lib/core/stale.ts';
import { MAX_DURATION_SECONDS, parseDuration } from '../../lib/engine/duration.ts';
import type { EnvironmentError } from '../../lib/errors.ts';
import {
  defineWorkflow,
  NotAvailableError,
  type StaleSessions,
  TriggersClient,
  ValidationError,
} from '../../lib/index.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { staleShard } from '../../lib/store/layout.ts';
import { captureCli } from './cli-run.ts';
import { type Harness, harness, lambdaContext, rejectionOf, thrownBy } from './fixtures.ts';

const HOUR = 3600;
const T0 = '2026-01-01T00:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(T0) + hours * HOUR * 1000).toISOString();

const waits = defineWorkflow('waits', {
  t_ab: { after: ['a', 'b'], run: 'h' },
  t_page: { after: ['ready'], andEvery: 'page', run: 'h' },
});

/** A harness whose clock stands at T0. */
function world(): Harness {
  return harness(waits);
}

/** Fires `trigger` into `sessionId` at the clock's time and applies it. */
async function fire(h: Harness, sessionId: string, trigger: string): Promise<void> {
  await h.fire(sessionId, trigger);
  await h.evaluate(sessionId);
}

/** Moves the harness clock to `hours` after T0. */
function clockAt(h: Harness, hours: number): void {
  h.clock.advance((Date.parse(at(hours)) - h.clock.now().getTime()) / 1000);
}

describe('parseDuration', () => {
  it.each([
    [90, 90],
    [0, 0],
    ['90', 90],
    ['30s', 30],
    ['15m', 900],
    ['24h', 86_400],
    ['7d', 604_800],
    ['1.5m', 90],
    ['0.1h', 360],
  ] as const)('reads %j as %i seconds', (d, seconds) => {
    expect(parseDuration(d)).toBe(seconds);
  });

  it.each([
    '1w',
    '-5m',
    '',
    ' 1h',
    '1h ',
    '1e3s',
    'h',
    '1.5s',
    1.5,
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    MAX_DURATION_SECONDS + 1,
  ])('refuses %j with a ValidationError', (d) => {
    expect(thrownBy(() => parseDuration(d))).toBeInstanceOf(ValidationError);
  });

  it('names the option and says what is accepted', () => {
    const err = thrownBy(() => parseDuration('soon', { name: 'olderThan' }));
    expect(err.message).toBe(
      "olderThan: 'soon' is not a duration: use seconds (90) or a number with s, m, h or d ('30s', '15m', '24h', '7d')",
    );
  });

  it('says why a fraction of a second is refused', () => {
    expect(thrownBy(() => parseDuration('1.5s')).message).toBe(
      "'1.5s' is 1.5 seconds: a duration must be a whole number of seconds",
    );
  });
});

describe('stale sessions on the memory store', () => {
  it('lists a session whose unstarted instance waited longer than the age, with what it waits for', async () => {
    const h = world();
    await fire(h, 's-old', 'a');
    clockAt(h, 23);
    await fire(h, 's-young', 'a');
    await fire(h, 's-done', 'a');
    await fire(h, 's-done', 'b');
    clockAt(h, 25);

    const answer = await readStale(h, { olderThan: '24h' });

    expect(answer).toEqual({
      olderThanSeconds: 86_400,
      cutoff: at(1),
      truncated: false,
      sessions: [
        {
          sessionId: 's-old',
          workflow: 'waits',
          oldestUnstartedAt: T0,
          waiting: [{ instance: 't_ab#0', task: 't_ab', waitingFor: ['b'], createdAt: T0 }],
        },
      ],
    });
  });

  it('leaves a session out once its waiting instances started', async () => {
    const h = world();
    await fire(h, 's1', 'a');
    clockAt(h, 25);
    expect((await readStale(h, { olderThan: '24h' })).sessions).toHaveLength(1);

    await fire(h, 's1', 'b');

    expect((await readStale(h, { olderThan: '24h' })).sessions).toEqual([]);
    expect(await h.store.countStale(at(1))).toEqual({ count: 0 });
  });

  it('judges a session by its next oldest instance once the oldest started', async () => {
    const h = world();
    await fire(h, 's1', 'a');
    clockAt(h, 10);
    await fire(h, 's1', 'page');
    clockAt(h, 25);
    await fire(h, 's1', 'b');

    expect((await readStale(h, { olderThan: '24h' })).sessions).toEqual([]);
    const [session] = (await readStale(h, { olderThan: '12h' })).sessions;
    expect(session?.oldestUnstartedAt).toBe(at(10));
    expect(session?.waiting).toEqual([
      { instance: 't_page#0', task: 't_page', waitingFor: ['ready'], createdAt: at(10) },
    ]);
  });

  it('lists only the instances created before the cutoff, oldest first', async () => {
    const h = world();
    await fire(h, 's1', 'page');
    clockAt(h, 1);
    await fire(h, 's1', 'a');
    clockAt(h, 20);
    await fire(h, 's1', 'page');
    clockAt(h, 26);

    const [session] = (await readStale(h, { olderThan: '24h' })).sessions;

    expect(session?.waiting.map((w) => [w.instance, w.createdAt])).toEqual([
      ['t_page#0', T0],
      ['t_ab#0', at(1)],
    ]);
  });

  it('does not count an instance created exactly at the cutoff', async () => {
    const h = world();
    await fire(h, 's1', 'a');
    clockAt(h, 24);

    expect((await readStale(h, { olderThan: '24h' })).sessions).toEqual([]);
    h.clock.advance(0.001);
    expect((await readStale(h, { olderThan: '24h' })).sessions).toHaveLength(1);
  });

  it('orders sessions oldest first and says when the limit cut the list', async () => {
    const h = world();
    for (const [hours, id] of [
      [2, 's-c'],
      [0, 's-a'],
      [1, 's-b'],
    ] as const) {
      clockAt(h, hours);
      await fire(h, id, 'b');
    }
    clockAt(h, 30);

    const two = await readStale(h, { olderThan: '1d', limit: 2 });
    const all = await readStale(h, { olderThan: '1d', limit: '3' });

    expect(two.sessions.map((s) => s.sessionId)).toEqual(['s-a', 's-b']);
    expect(two.truncated).toBe(true);
    expect(all.sessions.map((s) => s.sessionId)).toEqual(['s-a', 's-b', 's-c']);
    expect(all.truncated).toBe(false);
  });

  it.each([
    [{ olderThan: '0' }, /^olderThan: must be more than 0 seconds$/],
    [{ olderThan: 'soon' }, /^olderThan: 'soon' is not a duration/],
    [{ limit: 0 }, /^limit: '0' is not a whole number from 1 to 1000$/],
    [{ limit: '1001' }, /^limit: '1001' is not a whole number from 1 to 1000$/],
    [{ limit: '5x' }, /^limit: '5x' is not a whole number/],
  ])('refuses %j with a ValidationError', async (input, message) => {
    const err = await rejectionOf(readStale(world(), input));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toMatch(message);
  });

  it('counts the stale sessions and how long the oldest has waited, and publishes both as one EMF line', async () => {
    const h = world();
    await fire(h, 's1', 'a');
    clockAt(h, 2);
    await fire(h, 's2', 'page');
    clockAt(h, 3);
    await fire(h, 's3', 'a');
    clockAt(h, 28);

    const summary = await measureStale(h, 24 * HOUR);
    const line = JSON.parse(staleMetricLine(summary, 'sessions-table', h.clock.now()));

    expect(summary).toEqual({
      olderThanSeconds: 86_400,
      cutoff: at(4),
      count: 3,
      oldestAgeSeconds: 28 * HOUR,
      oldestUnstartedAt: T0,
    });
    expect(line._aws).toEqual({
      Timestamp: Date.parse(at(28)),
      CloudWatchMetrics: [
        {
          Namespace: 'ServerlessTriggers',
          Dimensions: [['TableName']],
          Metrics: [
            { Name: 'StaleSessions', Unit: 'Count' },
            { Name: 'OldestStaleAgeSeconds', Unit: 'Seconds' },
          ],
        },
      ],
    });
    expect(line).toMatchObject({
      TableName: 'sessions-table',
      StaleSessions: 3,
      OldestStaleAgeSeconds: 28 * HOUR,
    });
  });

  it('spreads sessions over every shard of the index, always the same one per session', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, i) => staleShard(`s-${i}`, 8)));
    expect([...shards].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(staleShard('survey-42', 8)).toBe(staleShard('survey-42', 8));
  });
});

describe('the stale-sessions function', () => {
  const settings = {
    TRIGGERS_TABLE_NAME: 'sessions-table',
    TRIGGERS_STALE_INDEX: 'stale',
    TRIGGERS_STALE_AFTER_SECONDS: 24 * HOUR,
  };

  it('writes the metric line and answers the measurement', async () => {
    const h = world();
    await fire(h, 's1', 'a');
    clockAt(h, 30);
    const lines: string[] = [];

    const handler = createStaleMonitorHandler(h, settings, (l) => lines.push(l));
    const summary = await handler({ source: 'aws.events' });

    expect(summary).toMatchObject({ count: 1, oldestAgeSeconds: 30 * HOUR });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      TableName: 'sessions-table',
      StaleSessions: 1,
    });
  });

  it('refuses to start without the age or the index, naming the variable', () => {
    const h = world();
    const { TRIGGERS_STALE_AFTER_SECONDS: _age, ...noAge } = settings;
    const { TRIGGERS_STALE_INDEX: _index, ...noIndex } = settings;

    const ageErr = thrownBy(() => createStaleMonitorHandler(h, noAge));
    const indexErr = thrownBy(() => createStaleMonitorHandler(h, noIndex));

    expect((ageErr as EnvironmentError).variable).toBe(ENV.staleAfterSeconds);
    expect((indexErr as EnvironmentError).variable).toBe(ENV.staleIndex);
  });

  it('reads its age and index from the environment, refusing bad values by name', () => {
    const env = { TRIGGERS_TABLE_NAME: 'sessions-table' };
    expect(
      settingsFromEnv({
        ...env,
        [ENV.staleAfterSeconds]: '86400',
        [ENV.staleIndex]: 'stale',
      }),
    ).toMatchObject({ TRIGGERS_STALE_AFTER_SECONDS: 86_400, TRIGGERS_STALE_INDEX: 'stale' });
    const fraction = thrownBy(() => settingsFromEnv({ ...env, [ENV.staleAfterSeconds]: '1.5' }));
    const badName = thrownBy(() => settingsFromEnv({ ...env, [ENV.staleIndex]: 'a b' }));
    expect((fraction as EnvironmentError).variable).toBe(ENV.staleAfterSeconds);
    expect((badName as EnvironmentError).variable).toBe(ENV.staleIndex);
  });
});

/** A GET request of the HTTP core. */
function get(path: string, query?: Record<string, string>): HttpRequest {
  return { method: 'GET', path, headers: {}, body: undefined, ...(query ? { query } : {}) };
}

describe('GET /stale', () => {
  let h: Harness;
  let api: HttpApi;

  beforeAll(async () => {
    h = world();
    await fire(h, 's-old', 'a');
    clockAt(h, 3);
    await fire(h, 's-new', 'page');
    clockAt(h, 27);
    api = createHttpApi({ store: h.store, registry: h.registry, clock: h.clock });
  });

  it('answers 200 with the stale sessions, oldest first, for the age and limit given', async () => {
    const res = await api.handle(get('/stale', { olderThan: '24h', limit: '10' }));

    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(await readStale(h, { olderThan: '24h', limit: 10 }));
    expect((JSON.parse(res.body) as StaleSessions).sessions.map((s) => s.sessionId)).toEqual([
      's-old',
    ]);
  });

  it('reads the query string left on the path when no query is given', async () => {
    const res = await api.handle(get('/stale?olderThan=20h&limit=1'));

    const body = JSON.parse(res.body) as StaleSessions;
    expect(body.olderThanSeconds).toBe(20 * HOUR);
    expect(body.sessions.map((s) => s.sessionId)).toEqual(['s-old']);
    expect(body.truncated).toBe(true);
  });

  it('defaults to 24 hours and 100 sessions', async () => {
    const body = JSON.parse((await api.handle(get('/stale'))).body) as StaleSessions;
    expect(body.olderThanSeconds).toBe(parseDuration(STALE_QUERY.olderThan));
    expect(body.cutoff).toBe(at(3));
  });

  it.each([
    [{ olderThan: 'yesterday' }, /^olderThan: 'yesterday' is not a duration/],
    [{ olderThan: '1.5s' }, /whole number of seconds/],
    [{ limit: '0' }, /^limit: '0' is not a whole number from 1 to 1000$/],
    [{ since: '1h' }, /^unknown query parameter\(s\): since/],
  ])('answers 400 VALIDATION to %j', async (query, message) => {
    const res = await api.handle(get('/stale', query));
    expect(res.status).toBe(400);
    const { error } = JSON.parse(res.body) as { error: { code: string; message: string } };
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toMatch(message);
  });

  it('answers 501 NOT_AVAILABLE over a DynamoDB store without the stale index', async () => {
    const store = new DynamoStore({
      tableName: 'no-index',
      clientConfig: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9' },
    });
    const plain = createHttpApi({ store, registry: h.registry, clock: h.clock });

    const res = await plain.handle(get('/stale'));

    expect(res.status).toBe(501);
    expect(JSON.parse(res.body).error).toMatchObject({
      code: 'NOT_AVAILABLE',
      message: expect.stringMatching(/staleSessions option of the Triggers construct/),
    });
  });

  it('gets its query from the ingest Lambda event', async () => {
    const handler = createIngestHandler({ store: h.store, registry: h.registry, clock: h.clock });
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/stale',
      rawQueryString: 'olderThan=2h',
      queryStringParameters: { olderThan: '2h' },
      headers: {},
      requestContext: { http: { method: 'GET', path: '/stale' }, stage: '$default' },
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;

    const res = await handler(event, lambdaContext());

    const body = JSON.parse(res.body as string) as StaleSessions;
    expect(res.statusCode).toBe(200);
    expect(body.olderThanSeconds).toBe(2 * HOUR);
    expect(body.sessions.map((s) => s.sessionId)).toEqual(['s-old', 's-new']);
  });

  it('is what TriggersClient.getStale reads, and a 501 comes back as NotAvailableError', async () => {
    const urls: string[] = [];
    const fetchVia =
      (core: HttpApi): typeof fetch =>
      async (input) => {
        const url = new URL(String(input));
        urls.push(url.pathname + url.search);
        const res = await core.handle(get(url.pathname + url.search));
        return new Response(res.body, { status: res.status, headers: res.headers });
      };
    const client = new TriggersClient({
      apiUrl: 'http://api.test',
      region: 'eu-west-1',
      fetch: fetchVia(api),
      credentials: noCredentials,
    });

    const answer = await client.getStale({ olderThan: '2h', limit: 1 });

    expect(urls).toEqual(['/stale?olderThan=2h&limit=1']);
    expect(answer.sessions.map((s) => s.sessionId)).toEqual(['s-old']);
    expect(answer.truncated).toBe(true);
    const store = new DynamoStore({ tableName: 'no-index', clientConfig: { region: 'eu-west-1' } });
    const plain = new TriggersClient({
      apiUrl: 'http://api.test',
      region: 'eu-west-1',
      fetch: fetchVia(createHttpApi({ store, registry: h.registry, clock: h.clock })),
      credentials: noCredentials,
    });
    expect(await rejectionOf(plain.getStale())).toBeInstanceOf(NotAvailableError);
  });
});

/** A credentials provider that finds none: requests go unsigned. */
const noCredentials = () => Promise.reject(new Error('no credentials in this test'));

/** Serves `api` on a free loopback port, query strings included, as the local stack does. */
async function serve(api: HttpApi): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const answer = await api.handle({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: {},
        body: undefined,
      });
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('triggers stale', () => {
  let h: Harness;
  let served: { url: string; close: () => Promise<void> };
  let withoutIndex: { url: string; close: () => Promise<void> };
  let closedUrl: string;

  beforeAll(async () => {
    h = world();
    await fire(h, 'cli-old', 'a');
    clockAt(h, 1);
    await fire(h, 'cli-old', 'page');
    clockAt(h, 5);
    await fire(h, 'cli-mid', 'b');
    clockAt(h, 30);
    served = await serve(createHttpApi({ store: h.store, registry: h.registry, clock: h.clock }));
    const store = new DynamoStore({ tableName: 'no-index', clientConfig: { region: 'eu-west-1' } });
    withoutIndex = await serve(createHttpApi({ store, registry: h.registry, clock: h.clock }));
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  afterAll(async () => {
    await served?.close();
    await withoutIndex?.close();
  });

  const cli = (args: string[], apiUrl = served.url) =>
    captureCli((io) => runCli(args, io), { env: { TRIGGERS_API_URL: apiUrl } });

  it('lists the stale sessions oldest first, each instance with what it waits for and how long', async () => {
    const run = await cli(['stale']);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        '2 session(s) with instances unstarted for more than 1d:',
        '  cli-old (workflow waits): waiting 1d 6h',
        `    t_ab#0    waiting for b (since ${T0}, 1d 6h)`,
        `    t_page#0  waiting for ready (since ${at(1)}, 1d 5h)`,
        '  cli-mid (workflow waits): waiting 1d 1h',
        `    t_ab#0  waiting for a (since ${at(5)}, 1d 1h)`,
        '',
      ].join('\n'),
    );
  });

  it('takes --older-than and --limit, and says when the limit cut the list', async () => {
    const run = await cli(['stale', '--older-than', '20h', '--limit', '1']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1+ session(s) with instances unstarted for more than 20h:');
    expect(run.stdout).toContain('cli-old');
    expect(run.stdout).not.toContain('cli-mid');
    expect(run.stdout).toContain('more sessions are stale: raise --limit to see them');
  });

  it('says so when nothing is stale', async () => {
    const run = await cli(['stale', '--older-than', '31h']);
    expect(run).toEqual({
      code: 0,
      stdout: 'no session has an instance unstarted for more than 1d 7h\n',
      stderr: '',
    });
  });

  it('prints the API answer with --json', async () => {
    const run = await cli(['stale', '--older-than', '2d', '--json']);
    expect(JSON.parse(run.stdout)).toEqual({
      olderThanSeconds: 172_800,
      cutoff: at(-18),
      sessions: [],
      truncated: false,
    });
  });

  it.each([
    [['--older-than', 'soon'], /^triggers: --older-than: 'soon' is not a duration/],
    [['--older-than', '0'], /^triggers: --older-than: must be more than 0 seconds/],
    [['--limit', '0'], /^triggers: --limit: '0' is not a whole number from 1 to 1000/],
    [['--limit', '2.5'], /^triggers: --limit: '2.5' is not a whole number/],
    [['extra'], /^triggers: stale: unexpected argument 'extra'/],
  ])('exits 1 on %j with one line on stderr', async (args, message) => {
    const run = await cli(['stale', ...args]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^triggers: [^\n]+\n$/);
    expect(run.stderr).toMatch(message);
  });

  it('exits 2 when the deployment does not track stale sessions', async () => {
    const run = await cli(['stale'], withoutIndex.url);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^triggers: this deployment does not track stale sessions/);
  });

  it('exits 3 when the API is unreachable', async () => {
    const run = await cli(['stale'], closedUrl);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^triggers: cannot reach/);
  });

  it('shows ages in their largest unit and the next', () => {
    expect([0, 40, 90, 3600, 93_784, 86_400].map(formatAge)).toEqual([
      '0s',
      '40s',
      '1m 30s',
      '1h',
      '1d 2h',
      '1d',
    ]);
  });
});
