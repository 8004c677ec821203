/**
 * The workflow registry: the workflows a deployment serves, compiled once, and the engine of
 * every version a session may be pinned to.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { type SessionEngine, sessionEngine } from '../engine/index.ts';
import { type CompiledWorkflow, compileWorkflow } from '../engine/workflow.ts';
import { NotFoundError, WorkflowError, WorkflowVersionNotFoundError } from '../errors.ts';
import type { WorkflowVersionSource } from '../store/port.ts';
import { workflowVersion } from '../store/workflow-version.ts';
import type { Workflow } from '../types.ts';

/**
 * The engine of one version of a workflow. Sessions it starts (`initialState`) are pinned to
 * that version.
 */
export interface VersionedEngine extends SessionEngine {
  /** The workflow version (`workflowVersion` of its definition). */
  readonly version: string;
}

/** Options of `WorkflowRegistry`. */
export interface WorkflowRegistryOptions {
  /**
   * Older versions of workflows that sessions may still be pinned to, known in-process so no
   * store read is needed for them (a workflow no longer deployed may be among them).
   * @default - none: older versions are loaded from the store when a session needs one
   */
  readonly previous?: readonly Workflow[];
}

function versionedEngine(workflow: Workflow): VersionedEngine {
  const engine = sessionEngine(compileWorkflow(workflow));
  const version = workflowVersion(workflow);
  return {
    ...engine,
    version,
    initialState: () => ({ ...engine.initialState(), version }),
  };
}

const versionKey = (name: string, version: string): string => `${name}\n${version}`;

/**
 * The workflows a deployment serves, compiled once, with the one new sessions get by default.
 * Each workflow has a current version (the deployed definition), which new sessions are pinned
 * to; sessions pinned to an older version are evaluated with that version's engine, loaded
 * from the store once and kept.
 *
 * @example
 * const registry = new WorkflowRegistry([survey], 'survey');
 * registry.engine('survey').apply(state, event);
 * const pinned = await registry.engineFor('survey', head.state.version, store);
 */
export class WorkflowRegistry {
  readonly defaultWorkflow: string;
  private readonly engines = new Map<string, VersionedEngine>();
  /** Other versions, by name and version: loaded, being loaded, or given as `previous`. */
  private readonly older = new Map<string, Promise<VersionedEngine>>();

  constructor(
    workflows: readonly Workflow[],
    defaultWorkflow?: string,
    opts: WorkflowRegistryOptions = {},
  ) {
    if (workflows.length === 0) throw new WorkflowError('at least one workflow is needed');
    for (const wf of workflows) {
      const engine = versionedEngine(wf);
      const name = engine.workflow.name;
      if (this.engines.has(name)) {
        throw new WorkflowError(`workflow '${name}' is defined twice`);
      }
      this.engines.set(name, engine);
    }
    const chosen = defaultWorkflow ?? (workflows[0] as Workflow).name;
    if (!this.engines.has(chosen)) {
      throw new WorkflowError(`the default workflow '${chosen}' is not one of the workflows given`);
    }
    this.defaultWorkflow = chosen;
    for (const wf of opts.previous ?? []) {
      const engine = versionedEngine(wf);
      const name = engine.workflow.name;
      if (this.engines.get(name)?.version === engine.version) continue;
      this.older.set(versionKey(name, engine.version), Promise.resolve(engine));
    }
  }

  /** True when a workflow of that name is registered. */
  has(name: string): boolean {
    return this.engines.has(name);
  }

  /**
   * The engine of the current version of a workflow; throws `NotFoundError` for an unknown
   * name.
   */
  engine(name: string): VersionedEngine {
    const engine = this.engines.get(name);
    if (!engine) throw new NotFoundError(`unknown workflow '${name}'`);
    return engine;
  }

  /** The current version of a workflow; throws `NotFoundError` for an unknown name. */
  version(name: string): string {
    return this.engine(name).version;
  }

  /**
   * The engine of a version of a workflow: the current one when `version` is absent (a session
   * created before versions were pinned) or current; else one given as `previous`, or loaded
   * from `source` on first use and kept. Throws `WorkflowVersionNotFoundError` when the
   * version is nowhere to be found, or the stored definition is not that version;
   * `NotFoundError` for an unknown name without a version.
   *
   * @example
   * const engine = await registry.engineFor(head.state.workflow, head.state.version, store);
   */
  async engineFor(
    name: string,
    version: string | undefined,
    source?: WorkflowVersionSource,
  ): Promise<VersionedEngine> {
    const current = this.engines.get(name);
    if (version === undefined || current?.version === version) return this.engine(name);
    const key = versionKey(name, version);
    const known = this.older.get(key);
    if (known) return known;
    const loading = loadVersion(name, version, source);
    this.older.set(key, loading);
    // A failed load is not kept: the next delivery asks the store again.
    loading.catch(() => this.older.delete(key));
    return loading;
  }

  /** The compiled workflow of that name; throws `NotFoundError` for an unknown name. */
  workflow(name: string): CompiledWorkflow {
    return this.engine(name).workflow;
  }

  /**
   * The task handlers the deployment has: those its workflows run (each has a queue). What a
   * session's configuration may name in `run`.
   */
  handlers(): Set<string> {
    return new Set(this.all().flatMap((wf) => [...wf.tasks.values()].map((t) => t.run)));
  }

  /**
   * The runners (queues) the deployment has: each task's `using`, else its handler, and the
   * timers queue when a workflow has timers (a configured task cannot name it: `using` may not
   * start with `#`).
   */
  queues(): Set<string> {
    return new Set(
      this.all().flatMap((wf) => [...wf.allTasks.values()].map((t) => t.using ?? t.run)),
    );
  }

  /** Every registered workflow. */
  all(): CompiledWorkflow[] {
    return [...this.engines.values()].map((e) => e.workflow);
  }
}

async function loadVersion(
  name: string,
  version: string,
  source: WorkflowVersionSource | undefined,
): Promise<VersionedEngine> {
  if (source?.getWorkflowVersion === undefined) {
    throw new WorkflowVersionNotFoundError(
      name,
      version,
      'it is not deployed here and no store of workflow versions was given',
    );
  }
  const definition = await source.getWorkflowVersion(name, version);
  if (definition === undefined) {
    throw new WorkflowVersionNotFoundError(
      name,
      version,
      'it is not deployed here and not in the store (deploy it with the Triggers construct, or store it with publishWorkflowVersions)',
    );
  }
  const actual = workflowVersion(definition);
  if (definition.name !== name || actual !== version) {
    throw new WorkflowVersionNotFoundError(
      name,
      version,
      `the stored definition is workflow '${definition.name}' version '${actual}'`,
    );
  }
  return versionedEngine(definition);
}
