/**
 * The workflow as the testing API takes it: a `Workflow`, or just its tasks.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { WorkflowError } from '../errors.ts';
import type { TaskConfig, Workflow } from '../types.ts';

/**
 * A workflow as the testing API takes it: a `Workflow`, or just its tasks (the workflow is then
 * named `'default'`). Throws `WorkflowError` for anything else.
 *
 * @example
 * asWorkflow({ t_a: { after: ['x'], run: 'h' } }); // { name: 'default', tasks: { t_a: ... } }
 */
export function asWorkflow(input: Workflow | Record<string, TaskConfig>): Workflow {
  if (typeof input !== 'object' || input === null) {
    throw new WorkflowError('workflow must be a Workflow or an object of task configs');
  }
  const maybe = input as Partial<Workflow>;
  if (typeof maybe.name === 'string' && typeof maybe.tasks === 'object' && maybe.tasks !== null) {
    return maybe as Workflow;
  }
  return { name: 'default', tasks: input as Record<string, TaskConfig> };
}
