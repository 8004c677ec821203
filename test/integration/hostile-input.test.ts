/**
 * Hostile input, table-driven, on DynamoDB Local: every row goes through the HTTP API core and
 * (where the SDK takes the same input) through `TriggersClient` in table mode. Each must be
 * refused with a 4xx (a `ValidationError` in the SDK) and a message, and write nothing: the
 * table's item count is the same before and after every row.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/core/clock.ts';
import { createHttpApi, type HttpApi, MAX_BODY_BYTES } from '../../lib/core/http.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { MAX_JSON_DEPTH } from '../../lib/core/validation.ts';
import {
  defineWorkflow,
  type Kwargs,
  TriggersClient,
  type TriggersError,
  ValidationError,
} from '../../lib/index.ts';
import {
  localAwsConfig,
  type RunningEmulators,
  startEmulators,
} from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { rejectionOf } from '../runtime/fixtures.ts';

const survey = defineWorkflow('survey', { t_a: { after: ['go'], run: 'h' } });

let emulators: RunningEmulators | undefined;
let ddb: DynamoDBClient;
let tableName: string;
let api: HttpApi;
let client: TriggersClient;

beforeAll(async () => {
  emulators = await startEmulators();
  const config = localAwsConfig(emulators.dynamodbEndpoint);
  ddb = new DynamoDBClient(config);
  tableName = `hostile-${randomUUID()}`;
  await createSessionTable(ddb, tableName);
  const store = new DynamoStore({ tableName, client: ddb });
  api = createHttpApi({ store, registry: new WorkflowRegistry([survey]), clock: systemClock });
  client = new TriggersClient({ tableName, workflows: [survey], ...config });
  // One real session, so that control requests reach an existing session.
  expect((await post('/sessions/s1/events', JSON.stringify({ trigger: 'go' }))).status).toBe(202);
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  await emulators?.stop();
});

async function items(): Promise<number> {
  const out = await ddb.send(new ScanCommand({ TableName: tableName, Select: 'COUNT' }));
  return out.Count ?? 0;
}

function post(path: string, body: string, method: 'POST' | 'PATCH' = 'POST') {
  return api.handle({
    method,
    path,
    headers: { 'content-type': 'application/json' },
    body,
  });
}

/** JSON text of an object nested `depth` levels deep (the outer object is level 1). */
function nested(depth: number): string {
  return `${'{"d":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
}

const big = 'x'.repeat(MAX_BODY_BYTES);

interface Row {
  name: string;
  path: string;
  /** The raw body text, sent as is. */
  body: string;
  status: number;
  code: string;
  /** The message must match this. */
  message: RegExp;
  /** The same input through the SDK (table mode), when the SDK takes it. */
  sdk?: (c: TriggersClient) => Promise<unknown>;
  /** @default 'POST' */
  method?: 'PATCH';
}

const fire = '/sessions/s1/events';
const metadataPath = '/sessions/s1/instances/t_a%230/metadata';
const statusPath = '/sessions/s1/instances/t_a%230/status';
const manyTasks = Object.fromEntries(
  Array.from({ length: 201 }, (_, i) => [`t_${i}`, { after: ['go'], run: 'h' }]),
);
const rows: Row[] = [
  {
    name: 'invalid JSON',
    path: fire,
    body: '{"trigger": "go",',
    status: 400,
    code: 'INVALID_JSON',
    message: /not valid JSON/,
  },
  {
    name: 'a JSON array as the body',
    path: fire,
    body: '[{"trigger":"go"}]',
    status: 400,
    code: 'VALIDATION',
    message: /must be a JSON object/,
  },
  {
    name: 'a number as the trigger',
    path: fire,
    body: '{"trigger": 42}',
    status: 400,
    code: 'VALIDATION',
    message: /'trigger'/,
    sdk: (c) => c.fire('s1', 42 as unknown as string),
  },
  {
    name: 'a string as the kwargs',
    path: fire,
    body: '{"trigger": "go", "kwargs": "a=1"}',
    status: 400,
    code: 'VALIDATION',
    message: /'kwargs' must be a JSON object/,
    sdk: (c) => c.fire('s1', 'go', 'a=1' as unknown as Kwargs),
  },
  {
    name: 'a body over 256 KiB',
    path: fire,
    body: JSON.stringify({ trigger: 'go', kwargs: { big } }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: /limit is 262144/,
    sdk: (c) => c.fire('s1', 'go', { big }),
  },
  {
    name: "a trigger name with '#'",
    path: fire,
    body: '{"trigger": "cascade#t_a#0"}',
    status: 400,
    code: 'VALIDATION',
    message: /'trigger' must match/,
    sdk: (c) => c.fire('s1', 'cascade#t_a#0'),
  },
  {
    name: 'a trigger name with a space',
    path: fire,
    body: '{"trigger": "go now"}',
    status: 400,
    code: 'VALIDATION',
    message: /'trigger' must match/,
    sdk: (c) => c.fire('s1', 'go now'),
  },
  {
    name: 'a trigger name in unicode',
    path: fire,
    body: '{"trigger": "étape1"}',
    status: 400,
    code: 'VALIDATION',
    message: /'trigger' must match/,
    sdk: (c) => c.fire('s1', 'étape1'),
  },
  {
    name: 'an expression-like trigger name',
    path: fire,
    body: '{"trigger": "a) OR (b"}',
    status: 400,
    code: 'VALIDATION',
    message: /'trigger' must match/,
    sdk: (c) => c.fire('s1', 'a) OR (b'),
  },
  {
    name: 'an expression-like session id',
    path: '/sessions/a)%20OR%20(b/events',
    body: '{"trigger": "go"}',
    status: 400,
    code: 'VALIDATION',
    message: /'sessionId' must match/,
    sdk: (c) => c.fire('a) OR (b', 'go'),
  },
  {
    name: "a session id with '#'",
    path: '/sessions/s%231/events',
    body: '{"trigger": "go"}',
    status: 400,
    code: 'VALIDATION',
    message: /'sessionId' must match/,
    sdk: (c) => c.fire('s#1', 'go'),
  },
  {
    name: 'a session id in unicode',
    path: `/sessions/${encodeURIComponent('sessão')}/events`,
    body: '{"trigger": "go"}',
    status: 400,
    code: 'VALIDATION',
    message: /'sessionId' must match/,
    sdk: (c) => c.fire('sessão', 'go'),
  },
  {
    name: 'an expression-like event id',
    path: fire,
    body: '{"trigger": "go", "eventId": "e1 OR attribute_exists(pk)"}',
    status: 400,
    code: 'VALIDATION',
    message: /'eventId' must match/,
    sdk: (c) => c.fire('s1', 'go', undefined, { eventId: 'e1 OR attribute_exists(pk)' }),
  },
  {
    name: 'an expression-like workflow name',
    path: fire,
    body: '{"trigger": "go", "workflow": "survey) OR (x"}',
    status: 400,
    code: 'VALIDATION',
    message: /'workflow' must match/,
    sdk: (c) => c.fire('s1', 'go', undefined, { workflow: 'survey) OR (x' }),
  },
  {
    name: 'a __proto__ key in the kwargs',
    path: fire,
    body: '{"trigger": "go", "kwargs": {"__proto__": {"polluted": true}}}',
    status: 400,
    code: 'VALIDATION',
    message: /'kwargs' must not contain the key '__proto__'/,
    sdk: (c) => c.fire('s1', 'go', JSON.parse('{"__proto__": {"polluted": true}}') as Kwargs),
  },
  {
    name: 'a __proto__ key deep in the kwargs',
    path: fire,
    body: '{"trigger": "go", "kwargs": {"a": [{"b": {"__proto__": {}}}]}}',
    status: 400,
    code: 'VALIDATION',
    message: /must not contain the key '__proto__' \(at a\.0\.b\)/,
  },
  {
    name: 'a constructor key in the kwargs',
    path: fire,
    body: '{"trigger": "go", "kwargs": {"constructor": {"prototype": {"x": 1}}}}',
    status: 400,
    code: 'VALIDATION',
    message: /must not contain the key 'constructor'/,
    sdk: (c) => c.fire('s1', 'go', { constructor: { prototype: { x: 1 } } } as unknown as Kwargs),
  },
  {
    name: `kwargs nested ${MAX_JSON_DEPTH + 1} levels deep`,
    path: fire,
    body: `{"trigger": "go", "kwargs": ${nested(MAX_JSON_DEPTH + 1)}}`,
    status: 400,
    code: 'VALIDATION',
    message: /must not nest deeper than 32 levels/,
    sdk: (c) => c.fire('s1', 'go', JSON.parse(nested(MAX_JSON_DEPTH + 1)) as Kwargs),
  },
  {
    name: 'kwargs nested 40,000 levels deep (just under the body limit)',
    path: fire,
    body: `{"trigger": "go", "kwargs": ${nested(40_000)}}`,
    status: 400,
    code: 'VALIDATION',
    message: /must not nest deeper than 32 levels/,
  },
  {
    name: 'an unknown field',
    path: fire,
    body: '{"trigger": "go", "ttl": 0}',
    status: 400,
    code: 'VALIDATION',
    message: /unknown field\(s\): ttl/,
  },
  {
    name: 'replacement kwargs with a __proto__ key',
    path: '/sessions/s1/instances/t_a%230/replay',
    body: '{"kwargs": {"go": {"__proto__": {"x": 1}}}}',
    status: 400,
    code: 'VALIDATION',
    message: /'kwargs' must not contain the key '__proto__' \(at go\)/,
    sdk: (c) =>
      c.replayFailed('s1', 't_a#0', JSON.parse('{"go": {"__proto__": {"x": 1}}}') as never),
  },
  {
    name: 'a skip result with a constructor key',
    path: '/sessions/s1/instances/t_a%230/skip',
    body: '{"cascade": true, "result": {"constructor": 1}}',
    status: 400,
    code: 'VALIDATION',
    message: /'result' must not contain the key 'constructor'/,
    sdk: (c) => c.skipFailed('s1', 't_a#0', { cascade: true, result: { constructor: 1 } }),
  },
  {
    name: 'a skip whose cascade is a string',
    path: '/sessions/s1/instances/t_a%230/skip',
    body: '{"cascade": "yes"}',
    status: 400,
    code: 'VALIDATION',
    message: /'cascade' must be a boolean/,
    sdk: (c) => c.skipFailed('s1', 't_a#0', { cascade: 'yes' as unknown as boolean }),
  },
  {
    name: 'an instance name that is an expression',
    path: `/sessions/s1/instances/${encodeURIComponent('t_a#0 OR 1=1')}/replay`,
    body: '{}',
    status: 400,
    code: 'VALIDATION',
    message: /'instance' must be an instance name/,
    sdk: (c) => c.replayFailed('s1', 't_a#0 OR 1=1'),
  },
  {
    name: 'metadata that is not an object',
    path: metadataPath,
    method: 'PATCH',
    body: '{"metadata": [1, 2]}',
    status: 400,
    code: 'VALIDATION',
    message: /'metadata' must be a JSON object/,
    sdk: (c) => c.updateInstanceMetadata('s1', 't_a#0', [1, 2] as unknown as Kwargs),
  },
  {
    name: 'metadata with a __proto__ key',
    path: metadataPath,
    method: 'PATCH',
    body: '{"metadata": {"__proto__": {"admin": true}}}',
    status: 400,
    code: 'VALIDATION',
    message: /'metadata' must not contain the key '__proto__'/,
    sdk: (c) =>
      c.updateInstanceMetadata('s1', 't_a#0', JSON.parse('{"__proto__": {"admin": true}}')),
  },
  {
    name: 'metadata over 64 KiB',
    path: metadataPath,
    method: 'PATCH',
    body: JSON.stringify({ metadata: { note: 'x'.repeat(70_000) } }),
    status: 400,
    code: 'VALIDATION',
    message: /'metadata' must be at most 65536 bytes/,
    sdk: (c) => c.updateInstanceMetadata('s1', 't_a#0', { note: 'x'.repeat(70_000) }),
  },
  {
    name: 'a status not in the statuses list',
    path: statusPath,
    body: '{"status": "done"}',
    status: 400,
    code: 'VALIDATION',
    message: /'status' must be one of/,
    sdk: (c) => c.setInstanceStatus('s1', 't_a#0', 'done' as unknown as 'finished', {}),
  },
  {
    name: 'a status the runtime sets',
    path: statusPath,
    body: '{"status": "running"}',
    status: 400,
    code: 'VALIDATION',
    message: /'status' 'running' is set by the runtime/,
    sdk: (c) => c.setInstanceStatus('s1', 't_a#0', 'running', {}),
  },
  {
    name: 'a cascade without finished',
    path: statusPath,
    body: '{"status": "skipped", "cascade": true}',
    status: 400,
    code: 'VALIDATION',
    message: /'cascade' only an instance set to 'finished' can cascade/,
    sdk: (c) => c.setInstanceStatus('s1', 't_a#0', 'skipped', { cascade: true }),
  },
  {
    name: 'cascade kwargs with a constructor key',
    path: statusPath,
    body: '{"status": "finished", "cascade": true, "cascadeKwargs": {"constructor": 1}}',
    status: 400,
    code: 'VALIDATION',
    message: /'cascadeKwargs' must not contain the key 'constructor'/,
  },
  {
    name: 'a configuration naming a handler the deployment does not have',
    path: '/sessions/s1/configuration',
    body: '{"tasks": {"t_x": {"after": ["go"], "run": "nope"}}}',
    status: 400,
    code: 'VALIDATION',
    message: /'tasks' task 't_x' runs 'nope'/,
    sdk: (c) => c.configureSession('s1', { t_x: { after: ['go'], run: 'nope' } }),
  },
  {
    name: 'a configuration of a task that can never run',
    path: '/sessions/s1/configuration',
    body: '{"tasks": {"t_x": {"after": ["t_y"], "run": "h"}, "t_y": {"after": ["t_x"], "run": "h"}}}',
    status: 400,
    code: 'VALIDATION',
    message: /'tasks' .*t_[xy]/,
    sdk: (c) =>
      c.configureSession('s1', {
        t_x: { after: ['t_y'], run: 'h' },
        t_y: { after: ['t_x'], run: 'h' },
      }),
  },
  {
    name: 'a configuration of more than 200 tasks',
    path: '/sessions/s1/configuration',
    body: JSON.stringify({ tasks: manyTasks }),
    status: 400,
    code: 'VALIDATION',
    message: /'tasks' must hold at most 200 tasks/,
    sdk: (c) => c.configureSession('s1', manyTasks),
  },
];

describe('hostile input over the HTTP API', () => {
  it.each(rows)('$name: $status $code, nothing written', async (row) => {
    const before = await items();

    const res = await post(row.path, row.body, row.method);

    expect(res.status).toBe(row.status);
    const error = (JSON.parse(res.body ?? '{}') as { error: { code: string; message: string } })
      .error;
    expect(error.code).toBe(row.code);
    expect(error.message).toMatch(row.message);
    expect(await items()).toBe(before);
  });
});

describe('hostile input through the SDK (table mode)', () => {
  it.each(rows.filter((r) => r.sdk !== undefined))(
    '$name: ValidationError, nothing written',
    async (row) => {
      const before = await items();

      const err = await rejectionOf((row.sdk as (c: TriggersClient) => Promise<unknown>)(client));

      expect(err).toBeInstanceOf(ValidationError);
      expect((err as TriggersError).status).toBe(400);
      expect(err.message.length).toBeGreaterThan(10);
      expect(await items()).toBe(before);
    },
  );
});
