import { type SessionEngine, sessionEngine } from '../engine/index.ts';
import { type CompiledWorkflow, compileWorkflow } from '../engine/workflow.ts';
import { NotFoundError, WorkflowError } from '../errors.ts';
import type { Workflow } from '../types.ts';

/**
 * The workflows a deployment serves, compiled once, with the one new sessions get by default.
 *
 * @example
 * const registry = new WorkflowRegistry([survey], 'survey');
 * registry.engine('survey').apply(state, event);
 */
export class WorkflowRegistry {
  readonly defaultWorkflow: string;
  private readonly engines = new Map<string, SessionEngine>();

  constructor(workflows: readonly Workflow[], defaultWorkflow?: string) {
    if (workflows.length === 0) throw new WorkflowError('at least one workflow is needed');
    for (const wf of workflows) {
      const compiled = compileWorkflow(wf);
      if (this.engines.has(compiled.name)) {
        throw new WorkflowError(`workflow '${compiled.name}' is defined twice`);
      }
      this.engines.set(compiled.name, sessionEngine(compiled));
    }
    const chosen = defaultWorkflow ?? (workflows[0] as Workflow).name;
    if (!this.engines.has(chosen)) {
      throw new WorkflowError(`the default workflow '${chosen}' is not one of the workflows given`);
    }
    this.defaultWorkflow = chosen;
  }

  /** True when a workflow of that name is registered. */
  has(name: string): boolean {
    return this.engines.has(name);
  }

  /** The engine of a workflow; throws `NotFoundError` for an unknown name. */
  engine(name: string): SessionEngine {
    const engine = this.engines.get(name);
    if (!engine) throw new NotFoundError(`unknown workflow '${name}'`);
    return engine;
  }

  /** The compiled workflow of that name; throws `NotFoundError` for an unknown name. */
  workflow(name: string): CompiledWorkflow {
    return this.engine(name).workflow;
  }

  /** Every registered workflow. */
  all(): CompiledWorkflow[] {
    return [...this.engines.values()].map((e) => e.workflow);
  }
}
