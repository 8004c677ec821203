/**
 * TriggersClient against real services: table mode on DynamoDB Local (the ingest flows the
 * HTTP API runs, over a `DynamoStore`), and SigV4 signing of API requests with an injected
 * fetch and injected credentials.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiRequestSigner } from '../../lib/client/sigv4.ts';
import { systemClock } from '../../lib/core/clock.ts';
import { evaluateSession } from '../../lib/core/evaluator.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import {
  defineWorkflow,
  NotAvailableError,
  NotFoundError,
  TriggersClient,
  ValidationError,
} from '../../lib/index.ts';
import {
  localAwsConfig,
  type RunningEmulators,
  startEmulators,
} from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { rejectionOf, thrownBy } from '../runtime/fixtures.ts';

const survey = defineWorkflow('survey', { t_score: { after: ['go'], run: 'score' } });

let emulators: RunningEmulators | undefined;
let ddb: DynamoDBClient | undefined;

beforeAll(async () => {
  // Reuses TRIGGERS_DYNAMODB_ENDPOINT, which the project's global setup provides.
  emulators = await startEmulators();
  ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  await emulators?.stop();
});

/** A fresh session table and a table-mode client on it, built the way users build one. */
async function tableClient(
  opts: { workflows?: boolean } = {},
): Promise<{ client: TriggersClient; tableName: string }> {
  if (!emulators || !ddb) throw new Error('the emulators did not start');
  const tableName = `client-${randomUUID()}`;
  await createSessionTable(ddb, tableName);
  const { endpoint, region, credentials } = localAwsConfig(emulators.dynamodbEndpoint);
  const client = new TriggersClient({
    tableName,
    endpoint,
    region,
    credentials,
    ...(opts.workflows === false ? {} : { workflows: [survey] }),
  });
  return { client, tableName };
}

async function itemCount(tableName: string): Promise<number> {
  const out = await (ddb as DynamoDBClient).send(new ScanCommand({ TableName: tableName }));
  return out.Count ?? 0;
}

/** Stream positions handed out by `evaluate`, in call order, as a stream would number them. */
let nextSequence = 1;

/** Applies the given events of a session, as the evaluator Lambda would. */
async function evaluate(tableName: string, sessionId: string, eventIds: string[]): Promise<void> {
  const store = new DynamoStore({ tableName, client: ddb as DynamoDBClient });
  const deps = {
    store,
    registry: new WorkflowRegistry([survey]),
    clock: systemClock,
    log: () => {},
  };
  const events = await store.getEvents(sessionId, eventIds);
  await evaluateSession(
    deps,
    sessionId,
    eventIds.flatMap((id) => {
      const e = events.get(id);
      return e ? [{ ...e, position: { stream: 'test', sequence: String(nextSequence++) } }] : [];
    }),
  );
}

describe('TriggersClient in table mode', () => {
  it('applies a fire once per eventId and answers duplicate: true the second time', async () => {
    const { client, tableName } = await tableClient();

    const first = await client.fire('s1', 'go', { page: 1 }, { eventId: 'go-s1' });
    const second = await client.fire('s1', 'go', { page: 1 }, { eventId: 'go-s1' });

    expect(first).toEqual({ eventId: 'go-s1', duplicate: false });
    expect(second).toEqual({ eventId: 'go-s1', duplicate: true });
    expect(await itemCount(tableName)).toBe(1);
  });

  it('gives a fire without an eventId a fresh one', async () => {
    const { client } = await tableClient();

    const a = await client.fire('s1', 'go');
    const b = await client.fire('s1', 'go');

    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(false);
    expect(a.eventId).not.toBe(b.eventId);
  });

  it('rejects invalid input with ValidationError and writes nothing', async () => {
    const { client, tableName } = await tableClient();

    const errors = await Promise.all([
      rejectionOf(client.fire('bad id!', 'go')),
      rejectionOf(client.fire('s1', 'bad trigger')),
      rejectionOf(client.fire('s1', 'go', [1, 2] as never)),
      rejectionOf(client.fire('s1', 'go', {}, { eventId: 'not ok' })),
      rejectionOf(client.fire('s1', 'go', { blob: 'x'.repeat(300 * 1024) })),
    ]);

    for (const err of errors) expect(err).toBeInstanceOf(ValidationError);
    expect(errors[1]?.message).toContain("'trigger'");
    expect(await itemCount(tableName)).toBe(0);
  });

  it('refuses an unknown workflow with NotFoundError, as the API answers 404', async () => {
    const { client, tableName } = await tableClient();

    const err = await rejectionOf(client.fire('s1', 'go', {}, { workflow: 'nope' }));

    expect(err).toBeInstanceOf(NotFoundError);
    expect(await itemCount(tableName)).toBe(0);
  });

  it('returns undefined for a session that does not exist', async () => {
    const { client } = await tableClient();

    expect(await client.getSession('never-fired')).toBeUndefined();
  });

  it('reads a session once the evaluator has applied its events', async () => {
    const { client, tableName } = await tableClient();
    const { eventId } = await client.fire('s1', 'go', { page: 1 });
    await evaluate(tableName, 's1', [eventId]);

    const view = await client.getSession('s1');

    expect(view).toMatchObject({
      sessionId: 's1',
      workflow: 'survey',
      fired: { go: { count: 1 } },
    });
    expect(view?.instances.map((i) => [i.name, i.status])).toEqual([['t_score#0', 'scheduled']]);
  });

  it('reads the timeline of a session, applied or not, and undefined for none', async () => {
    const { client, tableName } = await tableClient();
    const first = await client.fire('s1', 'go', { page: 1 }, { eventId: 'z-first' });
    // The table orders a session's events by when they were accepted, to the millisecond: the
    // evaluation in between keeps the two fires apart.
    await evaluate(tableName, 's1', [first.eventId]);
    await client.fire('s1', 'go', { page: 2 }, { eventId: 'a-second' });

    const events = await client.getEvents('s1');

    expect(events?.map((e) => [e.seq, e.eventId, e.kind, e.trigger, e.kwargs])).toEqual([
      [1, 'z-first', 'fire', 'go', { page: 1 }],
      [2, 'a-second', 'fire', 'go', { page: 2 }],
    ]);
    expect(events?.map((e) => e.applied)).toEqual([true, false]);
    expect(await client.getEvents('never-fired')).toBeUndefined();
  });

  it('describes its workflows', async () => {
    const { client } = await tableClient();

    expect(await client.getWorkflows()).toEqual({
      defaultWorkflow: 'survey',
      workflows: [
        {
          name: 'survey',
          tasks: [{ name: 't_score', after: ['go'], unless: [], run: 'score', maxRetries: 3 }],
        },
      ],
    });
  });

  it('refuses to replay an instance that does not exist with NotFoundError', async () => {
    const { client } = await tableClient();
    await client.fire('s1', 'go');

    const err = await rejectionOf(client.replayFailed('s1', 't_score#7'));

    expect(err).toBeInstanceOf(NotFoundError);
  });
});

describe('TriggersClient in table mode without workflows', () => {
  it('fires plainly and idempotently', async () => {
    const { client } = await tableClient({ workflows: false });

    await client.fire('s1', 'go', {}, { eventId: 'e1' });
    const again = await client.fire('s1', 'go', {}, { eventId: 'e1' });

    expect(again.duplicate).toBe(true);
  });

  it('returns undefined for a session that does not exist', async () => {
    const { client } = await tableClient({ workflows: false });

    expect(await client.getSession('never-fired')).toBeUndefined();
  });

  it('refuses to name a workflow, saying that workflows are needed', async () => {
    const { client, tableName } = await tableClient({ workflows: false });

    const err = await rejectionOf(client.fire('s1', 'go', {}, { workflow: 'survey' }));

    expect(err).toBeInstanceOf(NotAvailableError);
    expect(err.message).toContain('workflows');
    expect(await itemCount(tableName)).toBe(0);
  });

  it('refuses to read an existing session, saying that workflows are needed', async () => {
    const { client, tableName } = await tableClient({ workflows: false });
    const { eventId } = await client.fire('s1', 'go');
    await evaluate(tableName, 's1', [eventId]);

    const err = await rejectionOf(client.getSession('s1'));

    expect(err).toBeInstanceOf(NotAvailableError);
  });

  it('refuses a defaultWorkflow without workflows at construction', () => {
    const err = thrownBy(
      () => new TriggersClient({ tableName: 'triggers', defaultWorkflow: 'survey' }),
    );

    expect(err).toBeInstanceOf(ValidationError);
  });
});

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
}

function recordingFetch(response: () => Response = () => new Response('{}', { status: 202 })) {
  const requests: Recorded[] = [];
  const fetchFn = async (input: string | URL | Request, init?: RequestInit) => {
    requests.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
    });
    return response();
  };
  return { fetch: fetchFn as typeof fetch, requests };
}

const API = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';
const STATIC = { accessKeyId: 'AKID', secretAccessKey: 'secret' };
const noCredentials = async (): Promise<never> => {
  throw new Error('Could not load credentials from any providers');
};

describe('TriggersClient over the API with SigV4', () => {
  it('signs requests for execute-api in the region of the API host', async () => {
    const fake = recordingFetch(
      () => new Response(JSON.stringify({ eventId: 'e1', duplicate: false }), { status: 202 }),
    );
    const client = new TriggersClient({ apiUrl: API, fetch: fake.fetch, credentials: STATIC });

    await client.fire('s1', 'go', { page: 1 }, { eventId: 'e1' });

    const headers = fake.requests[0]?.headers ?? {};
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    const date = headers['x-amz-date']?.slice(0, 8);
    expect(headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=AKID/${date}/eu-west-1/execute-api/aws4_request, ` +
          'SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$',
      ),
    );
    expect(headers.authorization).toContain('SignedHeaders=content-type;host;x-amz-date,');
  });

  it('sends the session token of temporary credentials', async () => {
    const fake = recordingFetch();
    const client = new TriggersClient({
      apiUrl: API,
      fetch: fake.fetch,
      credentials: async () => ({ ...STATIC, sessionToken: 'token' }),
    });

    await client.replayFailed('s1', 't_a#0');

    expect(fake.requests[0]?.headers['x-amz-security-token']).toBe('token');
  });

  it('signs for the region option when the host names none', async () => {
    const fake = recordingFetch(() => new Response('{}', { status: 200 }));
    const client = new TriggersClient({
      apiUrl: 'https://triggers.example.com',
      fetch: fake.fetch,
      region: 'ap-southeast-2',
      credentials: STATIC,
    });

    await client.getSession('s1');

    expect(fake.requests[0]?.headers.authorization).toContain('/ap-southeast-2/execute-api/');
  });

  it('sends requests unsigned when no credentials are found', async () => {
    const fake = recordingFetch();
    const client = new TriggersClient({
      apiUrl: API,
      fetch: fake.fetch,
      credentials: noCredentials,
    });

    await client.skipFailed('s1', 't_a#0');
    await client.skipFailed('s1', 't_a#0');

    for (const req of fake.requests) {
      expect(req.headers.authorization).toBeUndefined();
      expect(req.headers['x-amz-date']).toBeUndefined();
    }
  });

  it('says a refused request was unsigned, and why', async () => {
    const fake = recordingFetch(
      () =>
        new Response(JSON.stringify({ message: 'Missing Authentication Token' }), { status: 403 }),
    );
    const client = new TriggersClient({
      apiUrl: API,
      fetch: fake.fetch,
      credentials: noCredentials,
    });

    const err = await rejectionOf(client.fire('s1', 'go'));

    expect(err.message).toContain('Missing Authentication Token');
    expect(err.message).toContain('not signed');
  });

  it('refuses explicit credentials when no region is known', () => {
    const err = thrownBy(
      () =>
        new ApiRequestSigner({
          apiUrl: 'https://triggers.example.com',
          credentials: STATIC,
          env: {},
        }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('region');
  });

  it('computes the signature of the AWS SigV4 test suite (get-vanilla)', async () => {
    const signer = new ApiRequestSigner({
      apiUrl: 'https://example.amazonaws.com',
      region: 'us-east-1',
      service: 'service',
      credentials: {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      },
    });

    const headers = await signer.headersFor(
      { method: 'GET', url: 'https://example.amazonaws.com/', headers: {} },
      new Date('2015-08-30T12:36:00Z'),
    );

    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, ' +
        'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });
});
