/**
 * The `'template'` test backend: the synthesized stack itself (`startTemplateStack`), driven
 * through its own HTTP API, as a deployment is. The workflow a test passes must be the one the
 * assembly deploys; the handlers run from the assembly's bundles, not from the test.
 * May import: base, engine, store, core, adapters, local, testing, client.
 *
 * @module
 */
import { TriggersClient } from '../client/client.ts';
import { type LogSink, silentSink } from '../core/log.ts';
import { NotAvailableError, ValidationError } from '../errors.ts';
import type { TemplateStack } from '../local/template/stack.ts';
import { workflowVersion } from '../store/workflow-version.ts';
import type { Workflow } from '../types.ts';
import type { TestRuntime, TestSession } from './index.ts';

/** What the template backend is given. */
export interface TemplateRuntimeOptions {
  /** The workflow under test: it must be one the assembly deploys. */
  readonly workflow: Workflow;
  /** The cloud assembly folder (`cdk.out`) or template file. */
  readonly assembly: string | undefined;
  readonly log: LogSink | undefined;
}

/** Refuses a workflow that is not, exactly, one the assembly deploys. */
function checkDeployed(stack: TemplateStack, workflow: Workflow): void {
  const deployed = (stack.deployment.workflows as Workflow[]).find((w) => w.name === workflow.name);
  if (deployed === undefined) {
    throw new ValidationError(
      `the assembly deploys no workflow '${workflow.name}' (it deploys ${(stack.deployment.workflows as Workflow[]).map((w) => w.name).join(', ')})`,
    );
  }
  const [want, got] = [workflowVersion(workflow), workflowVersion(deployed)];
  if (want !== got) {
    throw new ValidationError(
      `the workflow '${workflow.name}' under test (version ${want}) is not the one the assembly deploys (version ${got}): synthesize it again`,
    );
  }
}

/**
 * Starts the template backend's runtime: see the module comment. Without `assembly` it rejects
 * with `ValidationError`; `advance()` rejects with `NotAvailableError` (the deployed functions
 * run on the real clock).
 *
 * @example
 * const rt = await templateTestRuntime({ workflow: survey, assembly: 'cdk.out', log: undefined });
 * await rt.session('s1').fire('step1');
 * await rt.settle();
 */
export async function templateTestRuntime(opts: TemplateRuntimeOptions): Promise<TestRuntime> {
  if (opts.assembly === undefined) {
    throw new ValidationError(
      "backend 'template' needs assembly: the cloud assembly folder (cdk.out) to run",
    );
  }
  const log = opts.log ?? silentSink;
  const { startTemplateStack } = await import('../local/template/stack.ts');
  const stack = await startTemplateStack({
    assembly: opts.assembly,
    log,
    inspector: false,
    output: (fn, line) =>
      log({ level: 'info', message: line, timestamp: new Date().toISOString(), function: fn }),
  });
  try {
    checkDeployed(stack, opts.workflow);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const client = new TriggersClient({
    apiUrl: stack.url,
    // Loopback callers are not authenticated, as with `sam local start-api`.
    region: 'us-east-1',
    credentials: () => Promise.reject(new NotAvailableError('unsigned')),
  });
  const tasks = Object.keys(opts.workflow.tasks).sort();
  let closed = false;
  const open = () => {
    if (closed) throw new NotAvailableError('this test runtime is closed');
  };
  const session = (id: string): TestSession => ({
    async fire(trigger, kwargs, fireOpts) {
      open();
      await client.fire(id, trigger, kwargs ?? {}, {
        workflow: opts.workflow.name,
        ...(fireOpts?.eventId !== undefined ? { eventId: fireOpts.eventId } : {}),
      });
    },
    async instance(name) {
      return (await client.getSession(id))?.instances.find((i) => i.name === name);
    },
    async instances() {
      return (await client.getSession(id))?.instances ?? [];
    },
    async unresolvedTasks() {
      return (await client.getSession(id))?.unresolvedTasks ?? tasks;
    },
    async unresolvedInstances() {
      return (await client.getSession(id))?.unresolvedInstances ?? [];
    },
    async replayFailed(instance, replacementKwargs) {
      open();
      await client.replayFailed(id, instance, replacementKwargs);
    },
    async skipFailed(instance, skipOpts) {
      open();
      await client.skipFailed(id, instance, skipOpts ?? {});
    },
    async configure(configured) {
      open();
      await client.configureSession(id, configured, { workflow: opts.workflow.name });
    },
    async updateMetadata(instance, metadata) {
      open();
      await client.updateInstanceMetadata(id, instance, metadata);
    },
    async resolveLogs(instance) {
      open();
      await client.resolveInstanceLogs(id, instance);
    },
    async setStatus(instance, status, statusOpts) {
      open();
      await client.setInstanceStatus(id, instance, status, statusOpts ?? {});
    },
    async unresolvedLogs() {
      return (await client.getSession(id))?.unresolvedLogs ?? [];
    },
  });
  return {
    session,
    settle: (settleOpts) => stack.settle(settleOpts?.timeoutMs ?? 60_000),
    async advance() {
      throw new NotAvailableError(
        "advance() needs a virtual clock, and the 'template' backend runs the deployed functions on the real clock: use the memory or dynamodb-local backend to move time",
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await stack.stop();
    },
  };
}
