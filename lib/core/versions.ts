/**
 * Workflow versions: a content hash of a workflow definition, which each session is pinned to
 * when it is created, and where the definitions of deployed versions are kept so that any
 * Lambda can go on evaluating a session under the rules it started with.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { TriggersError } from '../errors.ts';
import { TABLE } from '../store/layout.ts';
import type { Workflow } from '../types.ts';

/** How many hex digits of the SHA-256 a version keeps (64 bits). */
export const WORKFLOW_VERSION_LENGTH = 16;

/**
 * JSON text with the keys of every object sorted, so two definitions that differ only in key
 * order give the same text. Everything else is as `JSON.stringify` has it: undefined values
 * are left out, so a definition and its JSON round trip (what a Lambda bundle inlines) agree.
 *
 * @example
 * canonicalJson({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? // fromEntries defines keys as own data properties: a `__proto__` key stays data.
        Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

/**
 * The version of a workflow: the first 16 hex digits of the SHA-256 of its canonical JSON.
 * Every field of the definition counts (name, tasks and their directives, timers, the finalize
 * trigger, custom directives); key order does not.
 *
 * @example
 * workflowVersion(defineWorkflow('survey', { t_a: { after: ['x'], run: 'h' } })); // 'c1f0…' (16 hex digits)
 */
export function workflowVersion(workflow: Workflow): string {
  return createHash('sha256')
    .update(canonicalJson(workflow))
    .digest('hex')
    .slice(0, WORKFLOW_VERSION_LENGTH);
}

/**
 * Where the definitions of deployed workflow versions are kept. The DynamoDB and in-memory
 * stores implement it (`SessionStore.getWorkflowVersion` / `putWorkflowVersion`).
 *
 * @example
 * await store.putWorkflowVersion(survey);                    // { version: '…', created: true }
 * await store.getWorkflowVersion('survey', workflowVersion(survey)); // the definition
 */
export interface WorkflowVersionStore {
  /** The definition of that version of that workflow; undefined when it was never stored. */
  getWorkflowVersion(name: string, version: string): Promise<Workflow | undefined>;
  /** Stores a definition under its version unless it is there; `created` says it was not. */
  putWorkflowVersion(workflow: Workflow): Promise<{ version: string; created: boolean }>;
}

/** Where a registry may load a version it does not hold: any store, or nothing. */
export type WorkflowVersionSource = Partial<Pick<WorkflowVersionStore, 'getWorkflowVersion'>>;

/**
 * A session is pinned to a workflow version that neither this deployment nor the store has.
 * The evaluator fails (the stream retries the batch) rather than run the session under other
 * rules; publish the version (deploy it with the construct, or `publishWorkflowVersions`).
 *
 * @example
 * try { await registry.engineFor('survey', 'deadbeefdeadbeef', store); }
 * catch (e) { if (e instanceof WorkflowVersionNotFoundError) console.error(e.workflow, e.version); }
 */
export class WorkflowVersionNotFoundError extends TriggersError {
  readonly workflow: string;
  readonly version: string;
  constructor(workflow: string, version: string, reason: string) {
    super(`workflow '${workflow}' version '${version}' is not available: ${reason}`, {
      code: 'WORKFLOW_VERSION_NOT_FOUND',
      status: 500,
    });
    this.workflow = workflow;
    this.version = version;
  }
}

/** Keys of the version items: one partition per workflow, one item per version. */
export const versionKeys = {
  workflow: (name: string): string => `WF#${name}`,
  version: (version: string): string => `V#${version}`,
} as const;

/**
 * The item that holds a version's definition, every attribute a string: the table keys, the
 * workflow's name, the version and the definition as canonical JSON. It has no TTL attribute:
 * a version item is never deleted, since a session may be pinned to it for as long as it lives.
 *
 * @example
 * workflowVersionItem(survey); // { pk: 'WF#survey', sk: 'V#…', workflow: 'survey', version: '…', definition: '{…}' }
 */
export function workflowVersionItem(workflow: Workflow): Record<string, string> {
  const version = workflowVersion(workflow);
  return {
    [TABLE.partitionKey]: versionKeys.workflow(workflow.name),
    [TABLE.sortKey]: versionKeys.version(version),
    workflow: workflow.name,
    version,
    definition: canonicalJson(workflow),
  };
}

/**
 * The `PutItem` request (low-level attribute values) that stores a version unless it is
 * stored: what the CDK construct's custom resource sends at deploy time.
 *
 * @example
 * await dynamodb.send(new PutItemCommand(workflowVersionPutItem('triggers', survey)));
 */
export function workflowVersionPutItem(
  tableName: string,
  workflow: Workflow,
): {
  TableName: string;
  Item: Record<string, { S: string }>;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
} {
  return {
    TableName: tableName,
    Item: Object.fromEntries(
      Object.entries(workflowVersionItem(workflow)).map(([k, v]) => [k, { S: v }]),
    ),
    ConditionExpression: 'attribute_not_exists(#sk)',
    ExpressionAttributeNames: { '#sk': TABLE.sortKey },
  };
}

/**
 * Reads the definition out of a version item; undefined when the item is not one.
 *
 * @example
 * definitionFromItem(workflowVersionItem(survey)); // survey, as canonical JSON parses
 */
export function definitionFromItem(
  item: Record<string, unknown> | undefined,
): Workflow | undefined {
  const text = item?.definition;
  return typeof text === 'string' ? (JSON.parse(text) as Workflow) : undefined;
}

/**
 * Stores the definitions of `workflows` under their versions, leaving stored ones as they are:
 * what a deployment does before its functions run new code. The CDK construct does it with a
 * custom resource; call this from a deployment of your own, or a local stack with a kept table.
 *
 * @example
 * await publishWorkflowVersions(store, [survey]); // [{ workflow: 'survey', version: '…', created: true }]
 */
export async function publishWorkflowVersions(
  store: Pick<WorkflowVersionStore, 'putWorkflowVersion'>,
  workflows: readonly Workflow[],
): Promise<Array<{ workflow: string; version: string; created: boolean }>> {
  const out: Array<{ workflow: string; version: string; created: boolean }> = [];
  for (const workflow of workflows) {
    const { version, created } = await store.putWorkflowVersion(workflow);
    out.push({ workflow: workflow.name, version, created });
  }
  return out;
}
