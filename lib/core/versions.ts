/**
 * Workflow versions, the flows over them: publishing deployed definitions to a store (the
 * hash and the version items are the store's; the not-found error is in lib/errors.ts).
 * May import: engine, store, core.
 *
 * @module
 */
import type { WorkflowVersionStore } from '../store/port.ts';
import type { Workflow } from '../types.ts';

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
