/**
 * The task Lambda's batch path: `taskHandler` / `processTaskBatch` over a real `MemoryStore`,
 * with instances scheduled by the real ingest and evaluator flows.
 */
import { describe, expect, it, vi } from 'vitest';
import { processTaskBatch } from '../../lib/adapters/aws-lambda/task-batch.ts';
import { silentSink } from '../../lib/core/log.ts';
import {
  NotAvailableError,
  type TaskContext,
  type TaskHandler,
  taskHandler,
  type Workflow,
} from '../../lib/index.ts';
import { resolveKwargs } from '../../lib/store/port.ts';
import {
  firesOf,
  type Harness,
  harness,
  lambdaContext,
  rejectionOf,
  sqsEvent,
  sqsRecord,
} from './fixtures.ts';

const workflow: Workflow = {
  name: 'batch',
  tasks: {
    t_alpha: { after: ['dataReceived'], run: 'score' },
    t_bravo: { after: ['t_alpha'], run: 'score' },
  },
};

/** Fires `dataReceived` into `s1` and evaluates, so `t_alpha#0` is scheduled. */
async function scheduled(kwargs = { answer: 42 }): Promise<Harness> {
  const h = harness(workflow);
  await h.fire('s1', 'dataReceived', kwargs);
  await h.evaluate('s1');
  const instance = await h.store.getInstance('s1', 't_alpha#0');
  expect(instance?.status, 'precondition: t_alpha#0 is scheduled').toBe('scheduled');
  return h;
}

function lambdaFor(h: Harness, fn: TaskHandler) {
  return taskHandler(fn, { runtime: { store: h.store, registry: h.registry, clock: h.clock } });
}

const message = { sessionId: 's1', instance: 't_alpha#0' };

describe('taskHandler over a memory store', () => {
  it('runs a scheduled instance once and records it finished with the handler result', async () => {
    const h = await scheduled();
    const fn = vi.fn((ctx: TaskContext) => ({
      doubled: (ctx.kwargs.dataReceived?.answer as number) * 2,
    }));
    const lambda = lambdaFor(h, fn);

    const response = await lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext());

    expect(response.batchItemFailures).toEqual([]);
    expect(fn).toHaveBeenCalledTimes(1);
    const ctx = fn.mock.calls[0]?.[0] as TaskContext;
    expect(ctx.sessionId).toBe('s1');
    expect(ctx.instance).toBe('t_alpha#0');
    expect(ctx.task).toBe('t_alpha');
    expect(ctx.attempt).toBe(0);
    expect(ctx.kwargs).toEqual({ dataReceived: { answer: 42 } });
    const instance = await h.store.getInstance('s1', 't_alpha#0');
    expect(instance?.status).toBe('finished');
    expect(instance?.result).toEqual({ doubled: 84 });
  });

  it('inserts the cascade event cascade#<instance> firing the task name with the result', async () => {
    const h = await scheduled();
    const lambda = lambdaFor(h, () => ({ score: 7 }));

    await lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext());

    const events = await h.store.getEvents('s1', ['cascade#t_alpha#0']);
    const cascade = events.get('cascade#t_alpha#0');
    expect(cascade).toMatchObject({
      kind: 'fire',
      trigger: 't_alpha',
      kwargs: { score: 7 },
      source: 'cascade',
    });
    const pending = await h.store.pendingEvents('s1');
    expect(pending.map((e) => e.eventId)).toEqual(['cascade#t_alpha#0']);
  });

  it('lets the evaluator schedule the downstream task from the cascade', async () => {
    const h = await scheduled();
    const lambda = lambdaFor(h, () => ({ score: 7 }));

    await lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext());
    await h.evaluate('s1');

    const stored = await h.store.getInstance('s1', 't_bravo#0');
    const [downstream] = await resolveKwargs(h.store, stored ? [stored] : []);
    expect(downstream?.status).toBe('scheduled');
    expect(downstream?.kwargs).toEqual({ t_alpha: { score: 7 } });
  });

  it('does not run the handler again when the same message is delivered a second time', async () => {
    const h = await scheduled();
    const fn = vi.fn(() => ({ score: 1 }));
    const lambda = lambdaFor(h, fn);
    await lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext());

    const again = await lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext());

    expect(again.batchItemFailures).toEqual([]);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(await firesOf(h.store, 's1', 't_alpha')).toHaveLength(1);
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.result).toEqual({ score: 1 });
  });

  it('runs the handler once when two copies of a message arrive in the same batch, keeping the busy copy for later', async () => {
    const h = await scheduled();
    const fn = vi.fn(async () => ({ score: 1 }));
    const lambda = lambdaFor(h, fn);

    const response = await lambda(
      sqsEvent(sqsRecord('m1', message), sqsRecord('m2', message)),
      lambdaContext(),
    );
    const redelivered = await lambda(sqsEvent(sqsRecord('m2', message)), lambdaContext());

    // The copy that found the instance running is not acknowledged while the other run
    // holds the lease; delivered again after that run finished, it is acknowledged.
    expect(response.batchItemFailures.length).toBeLessThanOrEqual(1);
    expect(redelivered.batchItemFailures).toEqual([]);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(await firesOf(h.store, 's1', 't_alpha')).toHaveLength(1);
  });

  it('reports each malformed record by its messageId while the good record of the batch still runs', async () => {
    const h = await scheduled();
    const fn = vi.fn(() => ({ score: 3 }));
    const lambda = lambdaFor(h, fn);

    const response = await lambda(
      sqsEvent(
        sqsRecord('not-json', '{ this is not json'),
        sqsRecord('no-instance', { sessionId: 's1' }),
        sqsRecord('no-hash', { sessionId: 's1', instance: 't_alpha' }),
        sqsRecord('good', message),
      ),
      lambdaContext(),
    );

    const failed = response.batchItemFailures.map((f) => f.itemIdentifier).sort();
    expect(failed).toEqual(['no-hash', 'no-instance', 'not-json']);
    expect(fn).toHaveBeenCalledTimes(1);
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.status).toBe('finished');
  });

  it('records a handler that throws as failed on the instance and not as a batch item failure', async () => {
    const h = await scheduled();
    class ScoringFailure extends Error {
      override name = 'ScoringFailure';
      readonly context = { subject: 42 };
    }
    const lambda = lambdaFor(h, () => {
      throw new ScoringFailure('scores are unavailable');
    });

    const response = await lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext());

    expect(response.batchItemFailures).toEqual([]);
    const instance = await h.store.getInstance('s1', 't_alpha#0');
    expect(instance?.status).toBe('failed');
    expect(instance?.error).toMatchObject({
      type: 'ScoringFailure',
      message: 'scores are unavailable',
      context: { subject: 42 },
    });
    expect(instance?.error?.stack).toContain('scores are unavailable');
    expect(await firesOf(h.store, 's1', 't_alpha')).toEqual([]);
  });

  it('acknowledges a message for an instance that does not exist without running the handler', async () => {
    const h = await scheduled();
    const fn = vi.fn(() => ({}));
    const lambda = lambdaFor(h, fn);

    const response = await lambda(
      sqsEvent(sqsRecord('m1', { sessionId: 's1', instance: 't_alpha#9' })),
      lambdaContext(),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(fn).not.toHaveBeenCalled();
  });

  it('rejects with NotAvailableError and runs nothing when it is given no runtime', async () => {
    const h = await scheduled();
    const fn = vi.fn(() => ({}));
    const lambda = taskHandler(fn);

    const err = await rejectionOf(lambda(sqsEvent(sqsRecord('m1', message)), lambdaContext()));

    expect(err).toBeInstanceOf(NotAvailableError);
    expect(err.message).toMatch(/runtime/);
    expect(fn).not.toHaveBeenCalled();
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.status).toBe('scheduled');
  });
});

describe('processTaskBatch', () => {
  it('runs the handler its task names and records a missing handler as a failure of the instance', async () => {
    const h = await scheduled();
    const deps = {
      store: h.store,
      registry: h.registry,
      clock: h.clock,
      log: silentSink,
      handlerFor: (name: string): TaskHandler | undefined =>
        name === 'other' ? () => ({}) : undefined,
    };

    const response = await processTaskBatch(
      deps,
      sqsEvent(sqsRecord('m1', message)),
      lambdaContext(),
    );

    expect(response.batchItemFailures).toEqual([]);
    const instance = await h.store.getInstance('s1', 't_alpha#0');
    expect(instance?.status).toBe('failed');
    expect(instance?.error?.type).toBe('HandlerNotFoundError');
    expect(instance?.error?.message).toContain("'score'");
    expect(instance?.error?.message).toContain("'t_alpha'");
  });
});
