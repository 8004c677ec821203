/**
 * The construct's permissions: the table actions each function needs, the grants on the table,
 * its stale index, the key and the API's routes, and the encryption of the queues.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { RouteSpec } from '../lib/core/routes.ts';
import { STALE_INDEX } from '../lib/store/layout.ts';

/**
 * Item actions each function needs (transactions are authorized per item action).
 *
 * @example
 * grantTableActions(fn, table, key, TABLE_ACTIONS.evaluator);
 */
export const TABLE_ACTIONS = {
  ingest: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:ConditionCheckItem',
  ],
  evaluator: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
  task: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
  /** Fires only: one conditional put per event. */
  eventBridge: ['dynamodb:PutItem'],
  /** The workflow versions' custom resource: puts a definition unless it is there. */
  workflowVersions: ['dynamodb:PutItem'],
  /** The lifecycle publisher: reads the stored workflow versions a session may be pinned to. */
  lifecycle: ['dynamodb:GetItem'],
} as const;

/**
 * Lets `grantee` take `actions` on the table's items, and use the customer-managed key when
 * there is one.
 *
 * @example
 * grantTableActions(taskFunction, table, key, TABLE_ACTIONS.task);
 */
export function grantTableActions(
  grantee: iam.IGrantable,
  table: dynamodb.ITable,
  key: kms.IKey | undefined,
  actions: readonly string[],
): void {
  table.grant(grantee, ...actions);
  key?.grantEncryptDecrypt(grantee);
}

/**
 * Lets `grantee` query the stale index and nothing else of the table (the index holds keys
 * only, so decrypting is all it needs of the key).
 *
 * @example
 * grantStaleIndexQuery(staleFunction, table, key);
 */
export function grantStaleIndexQuery(
  grantee: iam.IGrantable,
  table: dynamodb.ITable,
  key: kms.IKey | undefined,
): void {
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:Query'],
    resourceArns: [`${table.tableArn}/index/${STALE_INDEX.name}`],
  });
  key?.grantDecrypt(grantee);
}

/**
 * Lets EventBridge use the key of the queues it dead-letters into, for this account only.
 *
 * @example
 * letEventBridgeUseKey(key, Stack.of(this).account);
 */
export function letEventBridgeUseKey(key: kms.IKey, account: string): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': account } },
    }),
  );
}

/**
 * The encryption and transport settings of every queue of the construct: TLS only, under the
 * customer-managed key when there is one.
 *
 * @example
 * new sqs.Queue(this, 'StreamFailures', { retentionPeriod, ...queueEncryption(key) });
 */
export function queueEncryption(key: kms.IKey | undefined): sqs.QueueProps {
  return {
    enforceSSL: true,
    ...(key !== undefined
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
  };
}

/** The execute-api resource path of a route path: `*` for each `{parameter}`. */
function resourcePath(path: string): string {
  return path.replace(/\{[^}]*\}/g, '*');
}

/**
 * The execute-api resources of `routes`: one per method and path, less those another resource
 * of the same method already covers (a `GET` on `/sessions/*` covers
 * `/sessions/{sessionId}/events`).
 *
 * @example
 * routeResources([ROUTES.getSession, ROUTES.getEvents]); // [{ method: 'GET', path: '/sessions/*' }]
 */
export function routeResources(
  routes: readonly RouteSpec[],
): { method: RouteSpec['method']; path: string }[] {
  const all = routes.map((route) => ({ method: route.method, path: resourcePath(route.path) }));
  // A trailing `*` matches anything in an execute-api ARN, `/` included.
  const covers = (o: (typeof all)[number], r: (typeof all)[number]) =>
    o.method === r.method &&
    o.path !== r.path &&
    o.path.endsWith('*') &&
    r.path.startsWith(o.path.slice(0, -1));
  return all.filter(
    (r, i) =>
      all.findIndex((o) => o.method === r.method && o.path === r.path) === i &&
      !all.some((o) => covers(o, r)),
  );
}

/**
 * Lets `grantee` call `routes` of `api`: `execute-api:Invoke` on each of their resources.
 *
 * @example
 * grantRoutes(api, backendRole, [ROUTES.fire]);
 */
export function grantRoutes(
  api: apigwv2.HttpApi,
  grantee: iam.IGrantable,
  routes: readonly RouteSpec[],
): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['execute-api:Invoke'],
    resourceArns: routeResources(routes).map((r) => api.arnForExecuteApi(r.method, r.path)),
  });
}
