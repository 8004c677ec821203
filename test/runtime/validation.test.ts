/**
 * Input validation and typed errors of the runtime: fires, control requests and the test
 * runtime's options. A refused request stores nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fireEvent, requestReplay, requestSkip } from '../../lib/core/ingest.ts';
import { silentSink } from '../../lib/core/log.ts';
import { runInstance } from '../../lib/core/task-runner.ts';
import {
  fireInputSchema,
  jsonShapeProblem,
  MAX_JSON_DEPTH,
  parseInput,
  skipInputSchema,
} from '../../lib/core/validation.ts';
import {
  InstanceStateError,
  type Kwargs,
  NotAvailableError,
  NotFoundError,
  SettleTimeoutError,
  type TaskHandler,
  ValidationError,
  type Workflow,
  WorkflowError,
} from '../../lib/index.ts';
import { createTestRuntime, type TestRuntime } from '../../lib/testing/index.ts';
import { firesOf, harness, rejectionOf, thrownBy } from './fixtures.ts';

const workflow: Workflow = {
  name: 'validation',
  tasks: {
    t_alpha: { after: ['dataReceived'], run: 'maybeFail' },
    t_bravo: { after: ['t_alpha'], run: 'passThru' },
    t_later: { after: ['dataReceived', 'moreData'], run: 'passThru' },
  },
};

let broken = true;
const handlers: Record<string, TaskHandler> = {
  maybeFail: () => {
    if (broken) throw new Error('broken on purpose');
    return { repaired: true };
  },
  passThru: (ctx) => ({ kwargs: ctx.kwargs }),
};

const started: TestRuntime[] = [];
afterEach(async () => {
  broken = true;
  await Promise.all(started.splice(0).map((rt) => rt.close()));
});

async function start(
  handlerOverrides: Record<string, TaskHandler> = {},
  wf: Workflow = workflow,
): Promise<TestRuntime> {
  const rt = await createTestRuntime({
    workflow: wf,
    handlers: { ...handlers, ...handlerOverrides },
  });
  started.push(rt);
  return rt;
}

const badSessionIds: Array<[string, string]> = [
  ['with a space', 'has space'],
  ["with a '#'", 's#1'],
  ['empty', ''],
  ['of 257 characters', 'a'.repeat(257)],
];
const badTriggers: Array<[string, string]> = [
  ['with a space', 'data received'],
  ["with a '#'", 't_alpha#0'],
  ['empty', ''],
  ['of 129 characters', 'a'.repeat(129)],
];
const badKwargs: Array<[string, unknown]> = [
  ['an array', [1, 2]],
  ['a string', 'answer=42'],
  ['null', null],
];
const badEventIds: Array<[string, string]> = [
  ['with a space', 'event 1'],
  ["with a '#'", 'event#1'],
  ['empty', ''],
  ['of 257 characters', 'e'.repeat(257)],
];

describe('fireEvent over a memory store', () => {
  it.each(badSessionIds)(
    'refuses a session id %s with a ValidationError naming sessionId and stores nothing',
    async (_label, sessionId) => {
      const h = harness(workflow);

      const err = await rejectionOf(
        fireEvent(h, { sessionId, trigger: 'dataReceived', kwargs: {} }),
      );

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('sessionId');
      expect(await h.store.pendingEvents(sessionId)).toEqual([]);
    },
  );

  it.each(badTriggers)(
    'refuses a trigger name %s with a ValidationError naming trigger and stores nothing',
    async (_label, trigger) => {
      const h = harness(workflow);

      const err = await rejectionOf(fireEvent(h, { sessionId: 's1', trigger }));

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('trigger');
      expect(await h.store.pendingEvents('s1')).toEqual([]);
    },
  );

  it.each(badKwargs)(
    'refuses kwargs that are %s with a ValidationError naming kwargs and stores nothing',
    async (_label, kwargs) => {
      const h = harness(workflow);

      const err = await rejectionOf(
        fireEvent(h, { sessionId: 's1', trigger: 'dataReceived', kwargs: kwargs as Kwargs }),
      );

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('kwargs');
      expect(await h.store.pendingEvents('s1')).toEqual([]);
    },
  );

  it.each(badEventIds)(
    'refuses an event id %s with a ValidationError naming eventId and stores nothing',
    async (_label, eventId) => {
      const h = harness(workflow);

      const err = await rejectionOf(
        fireEvent(h, { sessionId: 's1', trigger: 'dataReceived', eventId }),
      );

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('eventId');
      expect(await h.store.pendingEvents('s1')).toEqual([]);
    },
  );

  it('refuses an unknown workflow with a NotFoundError naming it and stores nothing', async () => {
    const h = harness(workflow);

    const err = await rejectionOf(
      fireEvent(h, { sessionId: 's1', trigger: 'dataReceived', workflow: 'nope' }),
    );

    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain("workflow 'nope'");
    expect(await h.store.pendingEvents('s1')).toEqual([]);
  });

  it('accepts a session id of 256 characters and a trigger name of 128 characters', async () => {
    const h = harness(workflow);
    const sessionId = 's'.repeat(256);
    const trigger = 't'.repeat(128);

    const result = await fireEvent(h, { sessionId, trigger, eventId: 'e'.repeat(256) });

    expect(result).toEqual({ sessionId, eventId: 'e'.repeat(256), duplicate: false });
    expect((await h.store.pendingEvents(sessionId)).map((e) => e.eventId)).toEqual([
      'e'.repeat(256),
    ]);
  });

  it('stores an event id once and answers the second fire with duplicate: true', async () => {
    const h = harness(workflow);
    const input = { sessionId: 's1', trigger: 'dataReceived', eventId: 'once' };

    const first = await fireEvent(h, input);
    const second = await fireEvent(h, { ...input, kwargs: { changed: true } });

    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ sessionId: 's1', eventId: 'once', duplicate: true });
    const stored = await firesOf(h.store, 's1', 'dataReceived');
    expect(stored.map((e) => e.kwargs)).toEqual([{}]);
  });
});

describe('a test session fire', () => {
  it.each(badSessionIds)(
    'refuses a session id %s with a ValidationError and the session gets no instances',
    async (_label, sessionId) => {
      const rt = await start();
      const s = rt.session(sessionId);

      const err = await rejectionOf(s.fire('dataReceived'));
      await rt.settle();

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('sessionId');
      expect(await s.instances()).toEqual([]);
    },
  );

  it.each(badTriggers)(
    'refuses a trigger name %s with a ValidationError naming trigger',
    async (_label, trigger) => {
      const rt = await start();
      const s = rt.session('s1');

      const err = await rejectionOf(s.fire(trigger));
      await rt.settle();

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('trigger');
      expect(await s.instances()).toEqual([]);
    },
  );

  it.each(badKwargs)(
    'refuses kwargs that are %s with a ValidationError and the session gets no instances',
    async (_label, kwargs) => {
      const rt = await start();
      const s = rt.session('s1');

      const err = await rejectionOf(s.fire('dataReceived', kwargs as Kwargs));
      await rt.settle();

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('kwargs');
      expect(await s.instances()).toEqual([]);
    },
  );

  it.each(badEventIds)(
    'refuses an event id %s with a ValidationError and the session gets no instances',
    async (_label, eventId) => {
      const rt = await start();
      const s = rt.session('s1');

      const err = await rejectionOf(s.fire('dataReceived', {}, { eventId }));
      await rt.settle();

      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain('eventId');
      expect(await s.instances()).toEqual([]);
    },
  );
});

describe('createTestRuntime', () => {
  it('refuses a task whose run names no handler with a WorkflowError naming task and handler', async () => {
    const wf: Workflow = {
      name: 'missing',
      tasks: { t_orphan: { after: ['dataReceived'], run: 'nobodyHome' } },
    };

    const err = await rejectionOf(createTestRuntime({ workflow: wf, handlers }));

    expect(err).toBeInstanceOf(WorkflowError);
    expect(err.message).toContain('t_orphan');
    expect(err.message).toContain('nobodyHome');
    expect((err as WorkflowError).task).toBe('t_orphan');
  });

  it("says how to get backend 'dynamodb-local' going when Java is missing and no endpoint is set", async () => {
    const saved = {
      PATH: process.env.PATH,
      ddb: process.env.TRIGGERS_DYNAMODB_ENDPOINT,
      sqs: process.env.TRIGGERS_SQS_ENDPOINT,
    };
    process.env.PATH = '';
    delete process.env.TRIGGERS_DYNAMODB_ENDPOINT;
    delete process.env.TRIGGERS_SQS_ENDPOINT;
    try {
      const err = await rejectionOf(
        createTestRuntime({ workflow, handlers, backend: 'dynamodb-local' }),
      );

      expect(err).toBeInstanceOf(NotAvailableError);
      expect(err.message).toMatch(/Java 17.*TRIGGERS_DYNAMODB_ENDPOINT/s);
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.ddb !== undefined) process.env.TRIGGERS_DYNAMODB_ENDPOINT = saved.ddb;
      if (saved.sqs !== undefined) process.env.TRIGGERS_SQS_ENDPOINT = saved.sqs;
    }
  });

  it('refuses an unknown backend with a ValidationError naming it', async () => {
    const err = await rejectionOf(
      createTestRuntime({ workflow, handlers, backend: 'postgres' as 'memory' }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('postgres');
  });

  it('makes settle reject with SettleTimeoutError when a handler never resolves', async () => {
    const rt = await start({ maybeFail: () => new Promise<never>(() => {}) });
    await rt.session('s1').fire('dataReceived');
    const startedAt = Date.now();

    const err = await rejectionOf(rt.settle({ timeoutMs: 200 }));

    expect(err).toBeInstanceOf(SettleTimeoutError);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });
});

describe('control requests through a test session', () => {
  it('refuses to replay an instance that never existed with a NotFoundError naming it', async () => {
    const rt = await start();
    const s = rt.session('s1');
    await s.fire('dataReceived');
    await rt.settle();

    const err = await rejectionOf(s.replayFailed('t_alpha#7'));

    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain('t_alpha#7');
  });

  it('refuses to skip an instance of a session that never existed with a NotFoundError', async () => {
    const rt = await start();

    const err = await rejectionOf(rt.session('nobody').skipFailed('t_alpha#0'));

    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain('t_alpha#0');
  });

  it('refuses an instance name without a number with a ValidationError naming instance', async () => {
    const rt = await start();

    const err = await rejectionOf(rt.session('s1').replayFailed('t_alpha'));

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('instance');
  });

  it('accepts a replay of a failed instance, which the evaluator applies by running a clone', async () => {
    const rt = await start();
    const s = rt.session('s1');
    await s.fire('dataReceived', { answer: 42 });
    await rt.settle();
    expect((await s.instance('t_alpha#0'))?.status, 'precondition').toBe('failed');
    broken = false;

    await s.replayFailed('t_alpha#0');
    await rt.settle();

    expect((await s.instance('t_alpha#0'))?.status).toBe('replayed');
    const clone = await s.instance('t_alpha#1');
    expect(clone).toMatchObject({
      status: 'finished',
      parent: 't_alpha#0',
      attempt: 1,
      kwargs: { dataReceived: { answer: 42 } },
      result: { repaired: true },
    });
    expect((await s.instance('t_bravo#0'))?.status).toBe('finished');
  });

  it('accepts a skip of a failed instance, which the evaluator applies with its cascade', async () => {
    const rt = await start();
    const s = rt.session('s1');
    await s.fire('dataReceived');
    await rt.settle();

    await s.skipFailed('t_alpha#0', { cascade: true, result: { skipped: 'yes' } });
    await rt.settle();

    expect((await s.instance('t_alpha#0'))?.status).toBe('skipped');
    const downstream = await s.instance('t_bravo#0');
    expect(downstream?.status).toBe('finished');
    expect(downstream?.result).toEqual({ kwargs: { t_alpha: { skipped: 'yes' } } });
  });

  it('refuses a second skip after the first was applied with an InstanceStateError and changes nothing', async () => {
    const rt = await start();
    const s = rt.session('s1');
    await s.fire('dataReceived');
    await rt.settle();
    await s.skipFailed('t_alpha#0');
    await rt.settle();
    const before = await s.instances();

    const err = await rejectionOf(s.skipFailed('t_alpha#0', { cascade: true }));
    await rt.settle();

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as InstanceStateError).instance).toBe('t_alpha#0');
    expect((err as InstanceStateError).actualStatus).toBe('skipped');
    expect(err.message).toContain('t_alpha#0');
    expect(await s.instances()).toEqual(before);
  });

  it('refuses to replay a finished instance with an InstanceStateError', async () => {
    const rt = await start();
    const s = rt.session('s1');
    broken = false;
    await s.fire('dataReceived');
    await rt.settle();

    const err = await rejectionOf(s.replayFailed('t_alpha#0'));

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as InstanceStateError).actualStatus).toBe('finished');
  });

  it('refuses to skip an unstarted instance with an InstanceStateError', async () => {
    const rt = await start();
    const s = rt.session('s1');
    await s.fire('dataReceived');
    await rt.settle();
    expect((await s.instance('t_later#0'))?.status, 'precondition').toBe('unstarted');

    const err = await rejectionOf(s.skipFailed('t_later#0'));

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as InstanceStateError).actualStatus).toBe('unstarted');
  });
});

describe('control requests accepted before the evaluator ran', () => {
  it('applies only the first of two skips of the same failed instance and logs the refusal', async () => {
    const h = harness(workflow);
    await h.fire('s1', 'dataReceived');
    await h.evaluate('s1');
    await runInstance(
      {
        store: h.store,
        registry: h.registry,
        clock: h.clock,
        log: silentSink,
        handlerFor: () => () => {
          throw new Error('broken on purpose');
        },
      },
      { sessionId: 's1', instance: 't_alpha#0' },
    );
    expect((await h.store.getInstance('s1', 't_alpha#0'))?.status, 'precondition').toBe('failed');
    await requestSkip(h, {
      sessionId: 's1',
      instance: 't_alpha#0',
      cascade: true,
      result: { from: 'first' },
    });
    await requestSkip(h, {
      sessionId: 's1',
      instance: 't_alpha#0',
      cascade: true,
      result: { from: 'second' },
    });

    await h.evaluate('s1');

    expect((await h.store.getInstance('s1', 't_alpha#0'))?.status).toBe('skipped');
    const cascades = await h.store.getEvents('s1', ['cascade#t_alpha#0']);
    expect(cascades.get('cascade#t_alpha#0')).toMatchObject({ kwargs: { from: 'first' } });
    const refusals = h.logs.filter((l) => l.level === 'warn' && l.code === 'INSTANCE_NOT_FAILED');
    expect(refusals).toHaveLength(1);
  });

  it('refuses a replay request once the instance is replayed, before another clone is made', async () => {
    const h = harness(workflow);
    await h.fire('s1', 'dataReceived');
    await h.evaluate('s1');
    await runInstance(
      {
        store: h.store,
        registry: h.registry,
        clock: h.clock,
        log: silentSink,
        handlerFor: () => () => {
          throw new Error('broken on purpose');
        },
      },
      { sessionId: 's1', instance: 't_alpha#0' },
    );
    await requestReplay(h, { sessionId: 's1', instance: 't_alpha#0' });
    await h.evaluate('s1');

    const err = await rejectionOf(requestReplay(h, { sessionId: 's1', instance: 't_alpha#0' }));

    expect(err).toBeInstanceOf(InstanceStateError);
    expect((err as InstanceStateError).actualStatus).toBe('replayed');
    expect(await h.store.getInstance('s1', 't_alpha#2')).toBeUndefined();
    expect(await h.store.pendingEvents('s1')).toEqual([]);
  });
});

describe('jsonShapeProblem: the shape kwargs and results must have', () => {
  const nest = (depth: number): unknown => {
    let v: unknown = {};
    for (let i = 1; i < depth; i++) v = { d: v };
    return v;
  };

  it(`accepts nesting of exactly ${MAX_JSON_DEPTH} levels and refuses one more, naming where`, () => {
    expect(jsonShapeProblem(nest(MAX_JSON_DEPTH))).toBeUndefined();
    expect(jsonShapeProblem(nest(MAX_JSON_DEPTH + 1))).toBe(
      `must not nest deeper than 32 levels (at ${Array(MAX_JSON_DEPTH).fill('d').join('.')})`,
    );
  });

  it('counts arrays as levels too', () => {
    let v: unknown = [];
    for (let i = 1; i < MAX_JSON_DEPTH + 1; i++) v = [v];
    expect(jsonShapeProblem(v)).toMatch(/deeper than 32/);
  });

  it('walks a million levels without overflowing the stack', () => {
    expect(jsonShapeProblem(nest(1_000_000))).toMatch(/deeper than 32/);
  });

  it('refuses __proto__ and constructor keys at any depth, and allows look-alikes', () => {
    expect(jsonShapeProblem(JSON.parse('{"__proto__": 1}'))).toBe(
      "must not contain the key '__proto__'",
    );
    expect(jsonShapeProblem({ a: [{ constructor: 1 }] })).toBe(
      "must not contain the key 'constructor' (at a.0)",
    );
    expect(
      jsonShapeProblem({ proto: 1, __proto: 2, Constructor: 3, prototype: 4 }),
    ).toBeUndefined();
  });
});

describe('parseInput messages', () => {
  it('says a field is required only when it is missing, else what is wrong with it', () => {
    const missing = thrownBy(() => parseInput(fireInputSchema, { sessionId: 's1' }));
    expect(missing.message).toBe("'trigger' is required");
    const wrong = thrownBy(() => parseInput(fireInputSchema, { sessionId: 's1', trigger: 7 }));
    expect(wrong.message).toBe("'trigger' must be a string");
    const skip = thrownBy(() =>
      parseInput(skipInputSchema, { sessionId: 's1', instance: 't#0', cascade: 'yes' }),
    );
    expect(skip.message).toBe("'cascade' must be a boolean");
  });
});
