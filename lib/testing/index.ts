/**
 * Test a workflow end to end: `createTestRuntime` runs the same ingest, evaluator (which
 * sends the tasks it schedules) and task-runner code the Lambdas run, on the backend its
 * options name (memory by default).
 * May import: base, engine, store, core, adapters, local, testing.
 *
 * @module
 */

import type { FaultHook } from '../core/faults.ts';
import type { IngestDeps } from '../core/ingest.ts';
import {
  configureSession,
  fireEvent,
  requestReplay,
  requestSkip,
  resolveInstanceLogs,
  setInstanceStatus,
  updateInstanceMetadata,
} from '../core/ingest.ts';
import { callHooks, type LifecycleHooks } from '../core/lifecycle.ts';
import { type LogSink, silentSink } from '../core/log.ts';
import { WorkflowRegistry } from '../core/registry.ts';
import { readSession } from '../core/view.ts';
import { parseDuration } from '../engine/duration.ts';
import { checkHandlers, compileWorkflow } from '../engine/workflow.ts';
import { NotAvailableError, ValidationError } from '../errors.ts';
import type { CapacityEntry } from '../store/dynamo-store.ts';
import type {
  Duration,
  InstanceStatus,
  Kwargs,
  TaskConfig,
  TaskHandler,
  TaskInstance,
  Workflow,
} from '../types.ts';
import type { TestBackendFactory } from './backend.ts';
import { dynamodbLocalBackend } from './dynamodb-local.ts';
import { memoryBackend } from './memory.ts';
import { templateTestRuntime } from './template.ts';
import { asWorkflow } from './workflow-input.ts';

/**
 * Options of `createTestRuntime`.
 *
 * @example
 * const opts: TestRuntimeOptions = {
 *   workflow: { t_alpha: { after: ['dataReceived'], run: 'passThru' } },
 *   handlers: { passThru: ({ kwargs }) => ({ kwargs }) },
 *   backend: 'memory',
 * };
 */
export interface TestRuntimeOptions {
  /** The workflow, or just its tasks (the workflow is then named `'default'`). */
  workflow: Workflow | Record<string, TaskConfig>;
  /** Task handlers by the name tasks `run`. */
  handlers: Record<string, TaskHandler>;
  /**
   * Where sessions live. `'dynamodb-local'` needs the emulator packages (optional peer
   * dependencies, loaded only then): without them it rejects with `EmulatorsMissingError`,
   * whose message names the install command.
   * @default 'memory'
   */
  backend?: 'memory' | 'dynamodb-local' | 'template';
  /**
   * Backend `'template'`: the cloud assembly folder (`cdk.out`, from `cdk synth`) or template
   * file to run. The stack is run as it deploys (functions from their assets, the template's
   * mappings, routes and IAM policies) and driven through its HTTP API; `workflow` must be one
   * it deploys, `handlers` must name the workflow's handlers (the bundles run, not these), and
   * `advance()` is not available (the functions run on the real clock).
   */
  assembly?: string;
  /** Receives structured log entries (handler logs, refused requests). @default - discarded */
  log?: LogSink;
  /** Test-only crash points (see `crashOnce`): a hook that throws crashes that component there. */
  faults?: FaultHook;
  /** `'dynamodb-local'` only: receives the capacity every DynamoDB call consumed. */
  meter?: (entry: CapacityEntry) => void;
  /**
   * Called after the framework acts on a session, with the payloads the construct's
   * `lifecycleEvents` publishes to EventBridge (without their `id`), in the order it happened
   * per session: `afterFire` once a trigger is applied (a finished task's cascade shows as a
   * fire of its name), `afterReplay`, `afterSkip` (after its cascade's `afterFire`),
   * `afterFail`, `afterFinalize`. `settle()` returns once the hooks of what it waited for ran;
   * a hook that throws makes `settle()` reject. Not available on the `'template'` backend.
   *
   * @example
   * const fired: string[] = [];
   * const rt = await createTestRuntime({ workflow, handlers, hooks: { afterFire: (e) => fired.push(e.trigger) } });
   */
  hooks?: LifecycleHooks;
}

export { crashOnce, type FaultHook, type FaultPoint, InjectedFault } from '../core/faults.ts';
export type {
  InstanceFailedDetail,
  InstanceReplayedDetail,
  InstanceSkippedDetail,
  LifecycleHooks,
  SessionFinalizedDetail,
  TriggerFiredDetail,
} from '../core/lifecycle.ts';
export { EMULATORS_INSTALL, EmulatorsMissingError } from '../errors.ts';
export {
  type ExploreEvent,
  type ExploreOptions,
  type ExploreOutcome,
  type ExploreResult,
  ExploreRunError,
  explore,
  MAX_EXPLORE_EVENTS,
} from './explore.ts';

/**
 * A running test runtime.
 *
 * @example
 * const rt: TestRuntime = await createTestRuntime(opts);
 * await rt.advance('24h'); // timers due within a day fire, in time order
 * await rt.close();
 */
export interface TestRuntime {
  /** A handle on one session (sessions are created by their first event). */
  session(id: string): TestSession;
  /**
   * Resolves once nothing is in flight: cascades and retries included; cooldowns do not wait
   * real time (a virtual clock moves to them). Rejects with the first internal error, or with
   * `SettleTimeoutError` after `timeoutMs` (default 30 000).
   */
  settle(opts?: { timeoutMs?: number }): Promise<void>;
  /**
   * Moves the virtual clock forward by `by` (seconds, or `'30s'`, `'15m'`, `'24h'`, `'7d'`):
   * timers and cooldowns that fall due fire in time order, each settled before the next; then
   * settles. Timers fire only when the clock moves: `settle` alone never makes one due.
   */
  advance(by: Duration, opts?: { timeoutMs?: number }): Promise<void>;
  /** Stops everything it started; later fires, replays and skips reject with `NotAvailableError`. */
  close(): Promise<void>;
}

/**
 * One session of a test runtime.
 *
 * @example
 * const s: TestSession = rt.session('s1');
 * await s.fire('dataReceived', { answer: 42 });
 */
export interface TestSession {
  /** Fires a trigger; resolves once the event is accepted (not when tasks finish). */
  fire(trigger: string, kwargs?: Kwargs, opts?: { eventId?: string }): Promise<void>;
  instance(name: string): Promise<TaskInstance | undefined>;
  instances(): Promise<TaskInstance[]>;
  /** Tasks with no instance yet or with an unresolved instance, sorted. */
  unresolvedTasks(): Promise<string[]>;
  /** Instances not resolved, sorted. */
  unresolvedInstances(): Promise<string[]>;
  /** Replays a failed instance (refused with `InstanceStateError` otherwise). */
  replayFailed(instance: string, replacementKwargs?: Record<string, Kwargs>): Promise<void>;
  /** Skips a failed instance, cascading with `result` when asked (refused otherwise). */
  skipFailed(instance: string, opts?: { cascade?: boolean; result?: Kwargs }): Promise<void>;
  /**
   * Merges `tasks` by name into the session's workflow (a same-name task is replaced whole),
   * validated as a deployed workflow; the session runs under it from the next applied event.
   * Schedules nothing by itself: triggers fired before are not applied again, but later fires
   * evaluate against everything fired. Rejects with `ValidationError` naming the task (an
   * unknown handler, a task that can never run).
   */
  configure(tasks: Record<string, TaskConfig>): Promise<void>;
  /** Merges `metadata` into the instance's (top level), whatever its status. */
  updateMetadata(instance: string, metadata: Kwargs): Promise<void>;
  /** Marks the instance's logs resolved: it leaves the session's `unresolvedLogs`. */
  resolveLogs(instance: string): Promise<void>;
  /**
   * Sets the instance's status by hand; with `cascade` (only to `'finished'`) fires the task's
   * name with `cascadeKwargs`. Refused (`InstanceStateError`) while scheduled or running.
   */
  setStatus(
    instance: string,
    status: InstanceStatus,
    opts?: { metadata?: Kwargs; cascade?: boolean; cascadeKwargs?: Kwargs },
  ): Promise<void>;
  /** Instances that logged at `warn` or higher whose logs are not resolved, sorted. */
  unresolvedLogs(): Promise<string[]>;
}

/** One factory per backend `TestRuntimeOptions.backend` names. */
const BACKENDS: Readonly<
  Record<Exclude<TestRuntimeOptions['backend'], 'template' | undefined>, TestBackendFactory>
> = {
  memory: memoryBackend,
  'dynamodb-local': dynamodbLocalBackend,
};

/**
 * Starts a test runtime for a workflow and its handlers.
 *
 * @example
 * const rt = await createTestRuntime({
 *   workflow: { t_alpha: { after: ['dataReceived'], run: 'passThru' } },
 *   handlers: { passThru: ({ kwargs }) => ({ kwargs }) },
 * });
 * const s = rt.session('s1');
 * await s.fire('dataReceived', { answer: 42 });
 * await rt.settle();
 * (await s.instance('t_alpha#0'))?.status; // 'finished'
 * await rt.close();
 */
export async function createTestRuntime(opts: TestRuntimeOptions): Promise<TestRuntime> {
  const backend = opts.backend ?? 'memory';
  if (backend !== 'memory' && backend !== 'dynamodb-local' && backend !== 'template') {
    throw new ValidationError(
      `unknown backend '${String(backend)}': use 'memory', 'dynamodb-local' or 'template'`,
    );
  }
  const workflow = asWorkflow(opts.workflow);
  checkHandlers(compileWorkflow(workflow), Object.keys(opts.handlers));
  if (backend === 'template') {
    if (opts.hooks !== undefined) {
      throw new ValidationError(
        "hooks are not available on the 'template' backend: deploy with lifecycleEvents and consume them from EventBridge, or use 'memory' or 'dynamodb-local'",
      );
    }
    return templateTestRuntime({ workflow, assembly: opts.assembly, log: opts.log });
  }
  const hooks = opts.hooks;
  const registry = new WorkflowRegistry([workflow]);
  const handlers = { ...opts.handlers };
  const log = opts.log ?? silentSink;
  const runner = await BACKENDS[backend]({
    registry,
    handlers,
    log,
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.meter ? { meter: opts.meter } : {}),
    ...(hooks ? { onLifecycle: (events) => callHooks(hooks, events) } : {}),
  });
  const deps: IngestDeps = {
    store: runner.store,
    registry,
    clock: runner.clock,
    ...(opts.faults ? { faults: opts.faults } : {}),
  };

  const view = (sessionId: string) => readSession(deps, sessionId);
  let closed = false;
  const open = () => {
    if (closed) throw new NotAvailableError('this test runtime is closed');
  };

  return {
    session(id: string): TestSession {
      return {
        async fire(trigger, kwargs, fireOpts) {
          open();
          await fireEvent(deps, {
            sessionId: id,
            trigger,
            ...(kwargs !== undefined ? { kwargs } : {}),
            ...(fireOpts?.eventId !== undefined ? { eventId: fireOpts.eventId } : {}),
          });
        },
        async instance(name) {
          return (await view(id))?.instances.find((i) => i.name === name);
        },
        async instances() {
          return (await view(id))?.instances ?? [];
        },
        async unresolvedTasks() {
          const v = await view(id);
          return v
            ? v.unresolvedTasks
            : [...registry.workflow(registry.defaultWorkflow).tasks.keys()].sort();
        },
        async unresolvedInstances() {
          return (await view(id))?.unresolvedInstances ?? [];
        },
        async replayFailed(instance, replacementKwargs) {
          open();
          await requestReplay(deps, {
            sessionId: id,
            instance,
            ...(replacementKwargs !== undefined ? { kwargs: replacementKwargs } : {}),
          });
        },
        async skipFailed(instance, skipOpts) {
          open();
          await requestSkip(deps, {
            sessionId: id,
            instance,
            ...(skipOpts?.cascade !== undefined ? { cascade: skipOpts.cascade } : {}),
            ...(skipOpts?.result !== undefined ? { result: skipOpts.result } : {}),
          });
        },
        async configure(tasks) {
          open();
          await configureSession(deps, { sessionId: id, tasks });
        },
        async updateMetadata(instance, metadata) {
          open();
          await updateInstanceMetadata(deps, { sessionId: id, instance, metadata });
        },
        async resolveLogs(instance) {
          open();
          await resolveInstanceLogs(deps, { sessionId: id, instance });
        },
        async setStatus(instance, status, statusOpts) {
          open();
          await setInstanceStatus(deps, {
            sessionId: id,
            instance,
            status,
            ...(statusOpts?.metadata !== undefined ? { metadata: statusOpts.metadata } : {}),
            ...(statusOpts?.cascade !== undefined ? { cascade: statusOpts.cascade } : {}),
            ...(statusOpts?.cascadeKwargs !== undefined
              ? { cascadeKwargs: statusOpts.cascadeKwargs }
              : {}),
          });
        },
        async unresolvedLogs() {
          return (await view(id))?.unresolvedLogs ?? [];
        },
      };
    },
    settle: (settleOpts) => runner.settle(settleOpts?.timeoutMs ?? 30_000),
    advance: async (by, advanceOpts) => {
      open();
      await runner.advance(
        parseDuration(by, { name: 'advance(by)' }),
        advanceOpts?.timeoutMs ?? 30_000,
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await runner.close();
    },
  };
}
