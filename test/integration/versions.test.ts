/**
 * Pinned workflow versions on DynamoDB Local: the version items (the store's and the ones the
 * CDK construct's custom resource puts), and a session created under one deployment finishing
 * under its rules after a changed workflow is deployed over the same table. Each deployment is
 * a registry of its own over a `DynamoStore`, as a Lambda builds at cold start, running the
 * evaluator (with stream positions) and the task runner the Lambdas run.
 */

import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/core/clock.ts';
import { evaluateSession } from '../../lib/core/evaluator.ts';
import { fireEvent } from '../../lib/core/ingest.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { runInstance } from '../../lib/core/task-runner.ts';
import { publishWorkflowVersions } from '../../lib/core/versions.ts';
import { readSession } from '../../lib/core/view.ts';
import { WorkflowVersionNotFoundError } from '../../lib/errors.ts';
import { defineWorkflow, Retry, type TaskHandler, type Workflow } from '../../lib/index.ts';
import {
  localAwsConfig,
  type RunningEmulators,
  startEmulators,
} from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { TABLE, workflowVersionPutItem } from '../../lib/store/layout.ts';
import type { DeliveredEvent } from '../../lib/store/port.ts';
import { workflowVersion } from '../../lib/store/workflow-version.ts';
import type { Kwargs } from '../../lib/types.ts';
import { ordersHandlers, ordersV1, ordersV2, rejectionOf } from '../runtime/fixtures.ts';

const v1 = ordersV1;
const v2 = ordersV2;
const handlers = ordersHandlers;

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

/** A fresh session table, and the stream positions its events get, in the order first seen. */
async function table(): Promise<{ tableName: string; store: DynamoStore; positions: Positions }> {
  if (!ddb) throw new Error('the emulators did not start');
  const tableName = `versions-${randomUUID()}`;
  await createSessionTable(ddb, tableName);
  return { tableName, store: new DynamoStore({ tableName, client: ddb }), positions: new Map() };
}

type Positions = Map<string, number>;

/** One deployment of `workflows` over a table: what each Lambda builds at cold start. */
function deploy(
  store: DynamoStore,
  positions: Positions,
  workflows: Workflow[],
  taskHandlers: Record<string, TaskHandler> = handlers,
) {
  const deps = {
    store,
    registry: new WorkflowRegistry(workflows),
    clock: systemClock,
    log: () => {},
  };
  /** The session's events as the stream delivers them: in accept order, with positions. */
  const delivered = async (sessionId: string): Promise<DeliveredEvent[]> => {
    const out: DeliveredEvent[] = [];
    for (const e of await store.listEvents(sessionId)) {
      const key = `${sessionId}/${e.eventId}`;
      if (!positions.has(key)) positions.set(key, positions.size + 1);
      out.push({ ...e, position: { stream: 'test', sequence: String(positions.get(key)) } });
    }
    return out.sort((a, b) => Number(a.position.sequence) - Number(b.position.sequence));
  };
  const scheduled = async (sessionId: string) =>
    (await store.listInstances(sessionId)).filter((r) => r.status === 'scheduled');
  const api = {
    fire: (sessionId: string, trigger: string, kwargs?: Kwargs) =>
      fireEvent(deps, { sessionId, trigger, ...(kwargs !== undefined ? { kwargs } : {}) }),
    evaluate: async (sessionId: string) =>
      evaluateSession(deps, sessionId, await delivered(sessionId)),
    runScheduled: async (sessionId: string) => {
      for (const r of await scheduled(sessionId)) {
        await runInstance(
          { ...deps, handlerFor: (name) => taskHandlers[name] },
          { sessionId, instance: r.name },
        );
      }
    },
    /** Evaluates and runs until nothing is scheduled and the last evaluation applied everything. */
    settle: async (sessionId: string) => {
      for (let round = 0; round < 20; round++) {
        await api.evaluate(sessionId);
        if ((await scheduled(sessionId)).length === 0) return;
        await api.runScheduled(sessionId);
      }
      throw new Error(`session '${sessionId}' did not settle`);
    },
    view: (sessionId: string) => readSession(deps, sessionId),
  };
  return api;
}

describe('version items in the session table', () => {
  it('stores a version once, with no TTL, and reads its definition back', async () => {
    const { tableName, store } = await table();

    const first = await store.putWorkflowVersion(v1);
    const again = await store.putWorkflowVersion(v1);
    const raw = await (ddb as DynamoDBClient).send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'WF#orders' }, sk: { S: `V#${workflowVersion(v1)}` } },
      }),
    );

    expect(first).toEqual({ version: workflowVersion(v1), created: true });
    expect(again).toEqual({ version: workflowVersion(v1), created: false });
    expect(await store.getWorkflowVersion('orders', workflowVersion(v1))).toEqual(v1);
    expect(await store.getWorkflowVersion('orders', workflowVersion(v2))).toBeUndefined();
    expect(raw.Item?.[TABLE.ttlAttribute]).toBeUndefined();
    expect(raw.Item?.version).toEqual({ S: workflowVersion(v1) });
  });

  it("reads the item the construct's custom resource puts, whose second put fails as the resource expects", async () => {
    const { tableName, store } = await table();
    const put = () =>
      (ddb as DynamoDBClient).send(new PutItemCommand(workflowVersionPutItem(tableName, v2)));

    await put();
    const second = await rejectionOf(put());

    expect(await store.getWorkflowVersion('orders', workflowVersion(v2))).toEqual(v2);
    // The custom resource ignores exactly this error name on a redeploy or rollback.
    expect(second).toBeInstanceOf(ConditionalCheckFailedException);
    expect(second.name).toBe('ConditionalCheckFailedException');
  });
});

describe('a changed workflow deployed over running sessions, on DynamoDB', () => {
  it('lets a session created on v1 finish under v1 rules, while new sessions follow v2', async () => {
    const { store, positions } = await table();
    await publishWorkflowVersions(store, [v1]);
    const one = deploy(store, positions, [v1]);
    await one.fire('s1', 'paid');
    await one.settle('s1');

    await publishWorkflowVersions(store, [v2]);
    const two = deploy(store, positions, [v2]);
    await two.fire('s1', 'addressed');
    await two.settle('s1');
    await two.fire('s2', 'paid');
    await two.fire('s2', 'addressed');
    await two.settle('s2');

    expect((await store.getInstance('s1', 't_ship#0'))?.status).toBe('finished');
    expect(await store.getInstance('s1', 't_invoice#0')).toBeUndefined();
    const s1 = await two.view('s1');
    expect(s1?.workflowVersion).toBe(workflowVersion(v1));
    expect(s1?.unresolvedTasks).toEqual([]);
    const s2 = await two.view('s2');
    expect(s2?.workflowVersion).toBe(workflowVersion(v2));
    expect(s2?.instances.find((i) => i.name === 't_ship#0')).toMatchObject({
      status: 'unstarted',
      waitingFor: ['approved'],
    });
    expect((await store.getInstance('s2', 't_invoice#0'))?.status).toBe('finished');
  });

  it('decides a v1 instance outcome with v1 maxRetries when v2 runs it', async () => {
    const flaky: Record<string, TaskHandler> = {
      flaky: () => {
        throw new Retry();
      },
    };
    const strict = defineWorkflow('pay', { t_pay: { after: ['go'], run: 'flaky', maxRetries: 0 } });
    const lenient = defineWorkflow('pay', {
      t_pay: { after: ['go'], run: 'flaky', maxRetries: 2 },
    });
    const { store, positions } = await table();
    await publishWorkflowVersions(store, [strict, lenient]);
    const one = deploy(store, positions, [strict], flaky);
    await one.fire('s1', 'go');
    await one.evaluate('s1');

    const two = deploy(store, positions, [lenient], flaky);
    await two.runScheduled('s1');

    const pinned = await store.getInstance('s1', 't_pay#0');
    expect(pinned?.workflowVersion).toBe(workflowVersion(strict));
    expect(pinned?.status).toBe('failed');
    expect(pinned?.error?.type).toBe('MaxRetriesExceeded');
  });

  it('refuses to evaluate a session whose version is not in the table, writing nothing', async () => {
    const { store, positions } = await table();
    const one = deploy(store, positions, [v1]);
    await one.fire('s1', 'paid');
    await one.settle('s1');
    const before = await store.getHead('s1');

    const two = deploy(store, positions, [v2]);
    await two.fire('s1', 'addressed');
    const err = await rejectionOf(two.evaluate('s1'));

    expect(err).toBeInstanceOf(WorkflowVersionNotFoundError);
    expect(await store.getHead('s1')).toEqual(before);
    expect(await store.getInstance('s1', 't_ship#0')).toBeUndefined();
  });
});
