/**
 * Pinned workflow versions on the memory backend: the version hash, the registry's loading of
 * older versions, and sessions created under one deployment finishing under its rules after a
 * changed workflow is deployed over the same store (a second registry, as new Lambda code).
 */

import { describe, expect, it } from 'vitest';
import { evaluateSession } from '../../lib/core/evaluator.ts';
import { fireEvent } from '../../lib/core/ingest.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { runInstance } from '../../lib/core/task-runner.ts';
import { publishWorkflowVersions } from '../../lib/core/versions.ts';
import { readSession } from '../../lib/core/view.ts';
import { WorkflowVersionNotFoundError } from '../../lib/errors.ts';
import { defineWorkflow, Retry, type TaskHandler, type Workflow } from '../../lib/index.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import { canonicalJson, workflowVersion } from '../../lib/store/workflow-version.ts';
import type { Kwargs } from '../../lib/types.ts';
import { ManualClock, ordersHandlers, ordersV1, ordersV2, rejectionOf } from './fixtures.ts';

const v1 = ordersV1;
const v2 = ordersV2;
const handlers = ordersHandlers;

/**
 * One deployment of `workflows` over `store`: a registry of its own (as a Lambda's cold start
 * builds one) and the ingest, evaluator and task-runner flows the Lambdas run.
 */
function deploy(
  store: MemoryStore,
  workflows: Workflow[],
  opts: { handlers?: Record<string, TaskHandler> } = {},
) {
  const registry = new WorkflowRegistry(workflows);
  const clock = new ManualClock();
  const deps = { store, registry, clock, log: () => {} };
  const handlerFor = (name: string) => (opts.handlers ?? handlers)[name];
  return {
    registry,
    fire: (sessionId: string, trigger: string, kwargs?: Kwargs) =>
      fireEvent(deps, { sessionId, trigger, ...(kwargs !== undefined ? { kwargs } : {}) }),
    evaluate: async (sessionId: string) =>
      evaluateSession(deps, sessionId, await store.pendingEvents(sessionId)),
    /** Runs every scheduled instance of the session once. */
    runScheduled: async (sessionId: string) => {
      for (const r of await store.listInstances(sessionId)) {
        if (r.status === 'scheduled') {
          await runInstance({ ...deps, handlerFor }, { sessionId, instance: r.name });
        }
      }
    },
    /** Evaluates and runs until nothing is pending or scheduled. */
    async settle(sessionId: string) {
      for (let round = 0; round < 20; round++) {
        await this.evaluate(sessionId);
        const scheduled = (await store.listInstances(sessionId)).filter(
          (r) => r.status === 'scheduled',
        );
        if (scheduled.length === 0 && (await store.pendingEvents(sessionId)).length === 0) return;
        await this.runScheduled(sessionId);
      }
      throw new Error(`session '${sessionId}' did not settle`);
    },
    view: (sessionId: string) => readSession(deps, sessionId),
  };
}

const statusOf = async (store: MemoryStore, sessionId: string, instance: string) =>
  (await store.getInstance(sessionId, instance))?.status;

describe('workflowVersion', () => {
  it('is 16 hex digits of the definition', () => {
    expect(workflowVersion(v1)).toMatch(/^[0-9a-f]{16}$/);
    expect(workflowVersion(v1)).not.toBe(workflowVersion(v2));
  });

  it('does not depend on the order of keys, at any depth', () => {
    const a = defineWorkflow('w', {
      t_a: { after: ['x'], run: 'h', withParams: { x: { a: 1, b: { c: 2, d: 3 } } } },
      t_b: { after: ['t_a'], run: 'h', maxRetries: 1 },
    });
    const b: Workflow = {
      tasks: {
        t_b: { maxRetries: 1, run: 'h', after: ['t_a'] },
        t_a: { withParams: { x: { b: { d: 3, c: 2 }, a: 1 } }, run: 'h', after: ['x'] },
      },
      name: 'w',
    };

    expect(workflowVersion(b)).toBe(workflowVersion(a));
  });

  it('is the same after a JSON round trip, as a bundled definition is', () => {
    const wf = defineWorkflow('w', { t_a: { after: ['x'], run: 'h', unless: undefined } });

    expect(workflowVersion(JSON.parse(JSON.stringify(wf)) as Workflow)).toBe(workflowVersion(wf));
  });

  it.each([
    ['the name', { name: 'w2' }],
    ['an after trigger', { tasks: { t_a: { after: ['y'], run: 'h' } } }],
    ['maxRetries', { tasks: { t_a: { after: ['x'], run: 'h', maxRetries: 3 } } }],
    ['a custom directive', { tasks: { t_a: { after: ['x'], run: 'h', queueHint: 'fast' } } }],
    ['a timer', { timers: { reminder: { after: '1h', from: 'x' } } }],
    ['the finalize trigger', { finalizeTrigger: 'done' }],
  ] as const)('changes with %s', (_what, change) => {
    const base: Workflow = { name: 'w', tasks: { t_a: { after: ['x'], run: 'h' } } };

    expect(workflowVersion({ ...base, ...change } as Workflow)).not.toBe(workflowVersion(base));
  });

  it('keeps a __proto__ key of withParams as data', () => {
    const params = JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, Kwargs>;
    const wf: Workflow = {
      name: 'w',
      tasks: { t_a: { after: ['x'], run: 'h', withParams: params } },
    };

    expect(canonicalJson(wf)).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('WorkflowRegistry versions', () => {
  it('pins the sessions its engines start to the current version', () => {
    const registry = new WorkflowRegistry([v1]);

    expect(registry.version('orders')).toBe(workflowVersion(v1));
    expect(registry.engine('orders').initialState().version).toBe(workflowVersion(v1));
  });

  it('answers the current version and an absent one with the current engine, reading nothing', async () => {
    const registry = new WorkflowRegistry([v2]);
    const source = {
      getWorkflowVersion: async () => {
        throw new Error('read');
      },
    };

    expect(await registry.engineFor('orders', undefined, source)).toBe(registry.engine('orders'));
    expect(await registry.engineFor('orders', workflowVersion(v2), source)).toBe(
      registry.engine('orders'),
    );
  });

  it('loads an older version from the store once, even when asked for it concurrently', async () => {
    const store = new MemoryStore();
    await store.putWorkflowVersion(v1);
    let reads = 0;
    const source = {
      getWorkflowVersion: (name: string, version: string) => {
        reads += 1;
        return store.getWorkflowVersion(name, version);
      },
    };
    const registry = new WorkflowRegistry([v2]);

    const [a, b] = await Promise.all([
      registry.engineFor('orders', workflowVersion(v1), source),
      registry.engineFor('orders', workflowVersion(v1), source),
    ]);
    const c = await registry.engineFor('orders', workflowVersion(v1), source);

    expect(reads).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(a.version).toBe(workflowVersion(v1));
    expect([...a.workflow.tasks.keys()]).toEqual(['t_pack', 't_ship']);
  });

  it('refuses a version it cannot find with WorkflowVersionNotFoundError, and asks again next time', async () => {
    const store = new MemoryStore();
    const registry = new WorkflowRegistry([v2]);

    const err = await rejectionOf(registry.engineFor('orders', workflowVersion(v1), store));
    await store.putWorkflowVersion(v1);
    const engine = await registry.engineFor('orders', workflowVersion(v1), store);

    expect(err).toBeInstanceOf(WorkflowVersionNotFoundError);
    expect(err.message).toContain(`workflow 'orders' version '${workflowVersion(v1)}'`);
    expect((err as WorkflowVersionNotFoundError).code).toBe('WORKFLOW_VERSION_NOT_FOUND');
    expect(engine.version).toBe(workflowVersion(v1));
  });

  it('refuses a stored definition that is not the version asked for', async () => {
    const registry = new WorkflowRegistry([v2]);
    const source = { getWorkflowVersion: async () => v2 };

    const err = await rejectionOf(registry.engineFor('orders', workflowVersion(v1), source));

    expect(err).toBeInstanceOf(WorkflowVersionNotFoundError);
    expect(err.message).toContain(
      `the stored definition is workflow 'orders' version '${workflowVersion(v2)}'`,
    );
  });

  it('serves versions given as previous without a store, also of a workflow no longer deployed', async () => {
    const retired = defineWorkflow('retired', { t_a: { after: ['x'], run: 'ok' } });
    const registry = new WorkflowRegistry([v2], undefined, { previous: [v1, retired] });

    expect((await registry.engineFor('orders', workflowVersion(v1))).version).toBe(
      workflowVersion(v1),
    );
    expect((await registry.engineFor('retired', workflowVersion(retired))).workflow.name).toBe(
      'retired',
    );
    expect(registry.has('retired')).toBe(false);
  });
});

describe('the memory store of workflow versions', () => {
  it('stores a version once and hands back its definition', async () => {
    const store = new MemoryStore();

    const first = await publishWorkflowVersions(store, [v1, v2]);
    const again = await publishWorkflowVersions(store, [v1]);

    expect(first).toEqual([
      { workflow: 'orders', version: workflowVersion(v1), created: true },
      { workflow: 'orders', version: workflowVersion(v2), created: true },
    ]);
    expect(again).toEqual([{ workflow: 'orders', version: workflowVersion(v1), created: false }]);
    expect(await store.getWorkflowVersion('orders', workflowVersion(v1))).toEqual(v1);
    expect(await store.getWorkflowVersion('orders', '0000000000000000')).toBeUndefined();
  });
});

describe('a changed workflow deployed over running sessions', () => {
  it('lets a session created on v1 finish under v1 rules, while new sessions follow v2', async () => {
    const store = new MemoryStore();
    await publishWorkflowVersions(store, [v1]);
    const one = deploy(store, [v1]);
    await one.fire('s1', 'paid');
    await one.settle('s1');

    await publishWorkflowVersions(store, [v2]);
    const two = deploy(store, [v2]);
    await two.fire('s1', 'addressed');
    await two.settle('s1');
    await two.fire('s2', 'paid');
    await two.fire('s2', 'addressed');
    await two.settle('s2');

    // Under v1 an address is all t_ship waits for; under v2 it also needs an approval.
    expect(await statusOf(store, 's1', 't_ship#0')).toBe('finished');
    expect(await statusOf(store, 's1', 't_invoice#0')).toBeUndefined();
    const s1 = await two.view('s1');
    expect(s1?.workflowVersion).toBe(workflowVersion(v1));
    expect(s1?.unresolvedTasks).toEqual([]);
    const s2 = await two.view('s2');
    expect(s2?.workflowVersion).toBe(workflowVersion(v2));
    expect(s2?.instances.find((i) => i.name === 't_ship#0')).toMatchObject({
      status: 'unstarted',
      waitingFor: ['approved'],
    });
    expect(await statusOf(store, 's2', 't_invoice#0')).toBe('finished');
  });

  it('finishes a v2 session once its approval fires', async () => {
    const store = new MemoryStore();
    const two = deploy(store, [v2]);

    await two.fire('s2', 'paid');
    await two.fire('s2', 'addressed');
    await two.fire('s2', 'approved');
    await two.settle('s2');

    expect(await statusOf(store, 's2', 't_ship#0')).toBe('finished');
  });

  it('decides a v1 instance outcome with v1 maxRetries when v2 runs it', async () => {
    const retry: Record<string, TaskHandler> = {
      flaky: () => {
        throw new Retry();
      },
    };
    const strict = defineWorkflow('pay', { t_pay: { after: ['go'], run: 'flaky', maxRetries: 0 } });
    const lenient = defineWorkflow('pay', {
      t_pay: { after: ['go'], run: 'flaky', maxRetries: 2 },
    });
    const store = new MemoryStore();
    await publishWorkflowVersions(store, [strict]);
    const one = deploy(store, [strict], { handlers: retry });
    await one.fire('s1', 'go');
    await one.evaluate('s1');

    const two = deploy(store, [lenient], { handlers: retry });
    await two.runScheduled('s1');
    await two.fire('s2', 'go');
    await two.evaluate('s2');
    await two.runScheduled('s2');

    const pinned = await store.getInstance('s1', 't_pay#0');
    expect(pinned?.workflowVersion).toBe(workflowVersion(strict));
    expect(pinned?.status).toBe('failed');
    expect(pinned?.error?.type).toBe('MaxRetriesExceeded');
    expect(await statusOf(store, 's2', 't_pay#0')).toBe('replayed');
  });

  it('refuses to evaluate a session whose version is nowhere, changing nothing, and goes on once it is stored', async () => {
    const store = new MemoryStore();
    const one = deploy(store, [v1]);
    await one.fire('s1', 'paid');
    await one.settle('s1');
    const before = await store.getHead('s1');

    const two = deploy(store, [v2]);
    await two.fire('s1', 'addressed');
    const err = await rejectionOf(two.evaluate('s1'));
    const unchanged = await store.getHead('s1');
    await publishWorkflowVersions(store, [v1]);
    await two.settle('s1');

    expect(err).toBeInstanceOf(WorkflowVersionNotFoundError);
    expect(unchanged).toEqual(before);
    expect(await statusOf(store, 's1', 't_ship#0')).toBe('finished');
  });

  it('runs a session created before versions were pinned under the deployed version', async () => {
    const store = new MemoryStore();
    const one = deploy(store, [v1]);
    await one.fire('s1', 'paid');
    await one.settle('s1');
    // Strip the pin, as a head written before this change looks.
    const head = await store.getHead('s1');
    if (!head?.applied) throw new Error('no head');
    const { version: _pinned, ...legacy } = head.state;
    await store.commitEvaluation({
      sessionId: 's1',
      expectedVersion: head.version,
      state: legacy,
      applied: [],
      mark: head.applied,
      created: [],
      updated: [],
      events: [],
      at: head.applied.at,
    });

    const two = deploy(store, [v2]);
    await two.fire('s1', 'addressed');
    await two.settle('s1');

    expect(await statusOf(store, 's1', 't_ship#0')).toBeUndefined();
    const view = await two.view('s1');
    expect(view?.workflowVersion).toBeUndefined();
    expect(view?.instances.find((i) => i.name === 't_ship#0')?.waitingFor).toEqual(['approved']);
  });
});
