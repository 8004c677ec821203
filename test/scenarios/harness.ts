/**
 * Shared harness of the end-to-end scenarios: the backend switch, a runtime starter that closes
 * what it started after each test, the standard handlers and small assertion helpers.
 *
 * Everything here goes through the public test runtime only, so the same scenario files run
 * unchanged against every backend (`TRIGGERS_TEST_BACKEND=memory | dynamodb-local`).
 */
import { afterEach, expect, vi } from 'vitest';
import type { Kwargs, TaskConfig, TaskHandler, TaskInstance, Workflow } from '../../lib/index.ts';
import { createTestRuntime } from '../../lib/testing/index.ts';

/** The one parameter that picks the backend every scenario runs against. */
export const backend = (process.env.TRIGGERS_TEST_BACKEND ?? 'memory') as
  | 'memory'
  | 'dynamodb-local';

/** Per-test budget: generous for the emulated AWS stack, still far below any cooldown used. */
export const TEST_TIMEOUT_MS = backend === 'memory' ? 10_000 : 120_000;

vi.setConfig({ testTimeout: TEST_TIMEOUT_MS, hookTimeout: TEST_TIMEOUT_MS });

type Runtime = Awaited<ReturnType<typeof createTestRuntime>>;
export type Session = ReturnType<Runtime['session']>;

const started: Runtime[] = [];

afterEach(async () => {
  const runtimes = started.splice(0);
  await Promise.all(runtimes.map((rt) => rt.close()));
});

/** An error whose `name` is its class name, as a handler would throw it. */
export class RuntimeFailure extends Error {
  override name = 'RuntimeFailure';
}

/** The standard handlers every scenario can name in `run`. */
export const standardHandlers: Record<string, TaskHandler> = {
  /** Returns the kwargs it received, so a test sees exactly what the handler was given. */
  passThru: (ctx) => ({ kwargs: ctx.kwargs }),
  /** Returns an empty result. */
  devNull: () => ({}),
  /** Always throws a named error. */
  failing: () => {
    throw new RuntimeFailure("You weren't supposed to see that.");
  },
};

/**
 * Starts a test runtime on the selected backend with the standard handlers plus `handlers`;
 * it is closed after the test.
 */
export async function start(
  workflow: Record<string, TaskConfig> | Workflow,
  handlers: Record<string, TaskHandler> = {},
): Promise<Runtime> {
  const rt = await createTestRuntime({
    workflow,
    handlers: { ...standardHandlers, ...handlers },
    backend,
  });
  started.push(rt);
  return rt;
}

/** Starts a runtime and opens session `s1`. */
export async function startSession(
  workflow: Record<string, TaskConfig> | Workflow,
  handlers: Record<string, TaskHandler> = {},
): Promise<{ rt: Runtime; s: Session }> {
  const rt = await start(workflow, handlers);
  return { rt, s: rt.session('s1') };
}

function describeInstance(name: string, instance: TaskInstance | undefined): string {
  return instance === undefined
    ? `${name} does not exist`
    : `${name}: ${JSON.stringify(instance, null, 2)}`;
}

/** Asserts that the instance exists with the given status and returns it. */
export async function expectStatus(
  s: Session,
  name: string,
  status: TaskInstance['status'],
): Promise<TaskInstance> {
  const instance = await s.instance(name);
  expect(instance?.status, describeInstance(name, instance)).toBe(status);
  return instance as TaskInstance;
}

/** Asserts that the instance finished, and with exactly `result` when given. */
export async function expectFinished(
  s: Session,
  name: string,
  result?: Kwargs,
): Promise<TaskInstance> {
  const instance = await expectStatus(s, name, 'finished');
  if (result !== undefined) expect(instance.result, name).toEqual(result);
  return instance;
}

export const expectUnstarted = (s: Session, name: string) => expectStatus(s, name, 'unstarted');
export const expectAbandoned = (s: Session, name: string) => expectStatus(s, name, 'abandoned');
export const expectReplayed = (s: Session, name: string) => expectStatus(s, name, 'replayed');
export const expectSkipped = (s: Session, name: string) => expectStatus(s, name, 'skipped');

/** Asserts that the instance failed with the given error type and returns it. */
export async function expectFailed(s: Session, name: string, type: string): Promise<TaskInstance> {
  const instance = await expectStatus(s, name, 'failed');
  expect(instance.error?.type, describeInstance(name, instance)).toBe(type);
  return instance;
}

/** Asserts that the instance has not been created. */
export async function expectMissing(s: Session, name: string): Promise<void> {
  const instance = await s.instance(name);
  expect(instance, describeInstance(name, instance)).toBeUndefined();
}

/** Asserts the session's unresolved tasks and instances (both sorted). */
export async function expectUnresolved(
  s: Session,
  tasks: string[],
  instances: string[],
): Promise<void> {
  expect(await s.unresolvedTasks(), 'unresolved tasks').toEqual(tasks);
  expect(await s.unresolvedInstances(), 'unresolved instances').toEqual(instances);
}

/** Fires a trigger and waits until everything it caused has settled. */
export async function fireAndSettle(
  rt: Runtime,
  s: Session,
  trigger: string,
  kwargs?: Kwargs,
): Promise<void> {
  await s.fire(trigger, kwargs);
  await rt.settle();
}

/** A promise with its resolve function exposed, for handlers that must wait for the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Polls `probe` until it returns true, without calling `settle` (for scenarios where a handler
 * is deliberately kept running). Fails with `what` when the deadline passes.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = TEST_TIMEOUT_MS / 2,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
