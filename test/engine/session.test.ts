/**
 * The session reducer, rule by rule (semantics.md): `apply(workflow, state, event)` and
 * `decideOutcome`, asserting both the next state and the effects.
 */
import { describe, expect, it } from 'vitest';
import {
  apply,
  type CloneEvent,
  type CompiledWorkflow,
  compileWorkflow,
  decideOutcome,
  type Effect,
  type FireEvent,
  findUnstarted,
  type HandlerOutcome,
  initialState,
  MAX_REMEMBERED_TRIGGERS,
  type OutcomeEvent,
  type ReplayEvent,
  type SessionState,
  type SkipEvent,
  sessionEngine,
} from '../../lib/engine/index.ts';
import { defineWorkflow } from '../../lib/index.ts';
import type { InstanceStatus, TaskConfig } from '../../lib/types.ts';

const AT = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-01T00:05:00.000Z';

function compile(tasks: Record<string, TaskConfig>): CompiledWorkflow {
  return compileWorkflow(defineWorkflow('w', tasks));
}

function fire(trigger: string, eventId: string, at = AT): FireEvent {
  return { type: 'fire', eventId, trigger, at };
}

/** Applies fires `[trigger, eventId]` one after the other and returns the final state. */
function fireAll(
  wf: CompiledWorkflow,
  events: Array<[string, string]>,
  state: SessionState = initialState(wf),
): SessionState {
  let s = state;
  for (const [trigger, eventId] of events) s = apply(wf, s, fire(trigger, eventId)).state;
  return s;
}

function created(instance: string, task: string, at = AT): Effect {
  return { type: 'create', instance, task, at };
}

function scheduled(name: string, task: string, refs: Record<string, string>, at = AT): Effect {
  return {
    type: 'schedule',
    instance: { name, task, attempt: 0, kwargs: { refs }, createdAt: at },
    delaySeconds: 0,
  };
}

function abandoned(name: string, task: string, refs: Record<string, string>, at = AT): Effect {
  return {
    type: 'abandon',
    instance: { name, task, attempt: 0, kwargs: { refs }, createdAt: at },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

describe('initialState', () => {
  it('starts with no fired triggers, no instances and the workflow name', () => {
    const wf = compile({ t: { after: ['x'], run: 'h' } });

    const state = initialState(wf);

    expect(state).toEqual({ workflow: 'w', fired: {}, next: {}, unstarted: {} });
  });
});

describe('firing, step 1: the first instance of a task', () => {
  it('creates <task>#0 and schedules it when its only after trigger fires', () => {
    const wf = compile({ t: { after: ['x'], run: 'h' } });

    const { state, effects } = apply(wf, initialState(wf), fire('x', 'e1'));

    expect(effects).toEqual([created('t#0', 't'), scheduled('t#0', 't', { x: 'e1' })]);
    expect(state).toEqual({
      workflow: 'w',
      fired: { x: { count: 1, last: 'e1' } },
      next: { t: 1 },
      unstarted: {},
    });
  });

  it('keeps <task>#0 unstarted, holding the ref of the trigger, while other after triggers are missing', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });

    const { state, effects } = apply(wf, initialState(wf), fire('a', 'e1'));

    expect(effects).toEqual([created('t#0', 't')]);
    expect(state.unstarted).toEqual({
      t: [{ n: 0, kwargs: { a: 'e1' }, abandon: [], createdAt: AT }],
    });
    expect(state.next).toEqual({ t: 1 });
  });

  it('starts the first instance with the latest refs of the other after triggers that already fired', () => {
    // A session whose workflow gained task t after a and u had already fired.
    const wf = compile({ t: { after: ['a', 'b', 'c'], unless: ['u', 'v'], run: 'h' } });
    const before: SessionState = {
      workflow: 'w',
      fired: { a: { count: 2, last: 'e2' }, u: { count: 1, last: 'e3' } },
      next: {},
      unstarted: {},
    };

    const { state, effects } = apply(wf, before, fire('b', 'e4'));

    expect(effects).toEqual([created('t#0', 't')]);
    expect(findUnstarted(state, 't#0')).toEqual({
      n: 0,
      kwargs: { a: 'e2', b: 'e4' },
      abandon: ['u'],
      createdAt: AT,
    });
  });

  it('creates <task>#0 when an unless trigger fires first, recording it in the abandon state', () => {
    const wf = compile({ t: { after: ['a'], unless: ['u1', 'u2'], run: 'h' } });

    const { state, effects } = apply(wf, initialState(wf), fire('u1', 'e1'));

    expect(effects).toEqual([created('t#0', 't')]);
    expect(findUnstarted(state, 't#0')).toEqual({
      n: 0,
      kwargs: {},
      abandon: ['u1'],
      createdAt: AT,
    });
  });

  it('creates the first instance of every task that mentions the trigger, in definition order', () => {
    const wf = compile({
      t1: { after: ['x'], run: 'h' },
      t2: { after: ['y'], run: 'h' },
      t3: { after: ['x', 'z'], run: 'h' },
    });

    const { state, effects } = apply(wf, initialState(wf), fire('x', 'e1'));

    expect(effects).toEqual([
      created('t1#0', 't1'),
      scheduled('t1#0', 't1', { x: 'e1' }),
      created('t3#0', 't3'),
    ]);
    expect(state.next).toEqual({ t1: 1, t3: 1 });
  });
});

describe('firing, step 2: existing instances', () => {
  it('applies a later after trigger to the unstarted instance and schedules it, creating nothing', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });
    const before = fireAll(wf, [['a', 'e1']]);

    const { state, effects } = apply(wf, before, fire('b', 'e2'));

    expect(effects).toEqual([scheduled('t#0', 't', { a: 'e1', b: 'e2' })]);
    expect(state.unstarted).toEqual({});
    expect(state.next).toEqual({ t: 1 });
  });

  it('schedules the same instance whatever the order the after triggers arrive in', () => {
    const wf = compile({ t: { after: ['a', 'b', 'c'], run: 'h' } });

    const orders = [
      ['a', 'b', 'c'],
      ['c', 'a', 'b'],
      ['b', 'c', 'a'],
    ].map((order) => {
      const before = fireAll(
        wf,
        order.slice(0, 2).map((t): [string, string] => [t, `e_${t}`]),
      );
      const last = order[2] as string;
      return apply(wf, before, fire(last, `e_${last}`)).effects;
    });

    for (const effects of orders) {
      expect(effects).toEqual([scheduled('t#0', 't', { a: 'e_a', b: 'e_b', c: 'e_c' })]);
    }
  });

  it('ignores a plain after trigger firing again: the unstarted instance keeps its first ref', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });
    const before = fireAll(wf, [['a', 'e1']]);

    const { state, effects } = apply(wf, before, fire('a', 'e2'));

    expect(effects).toEqual([]);
    expect(state.unstarted).toEqual(before.unstarted);
    expect(state.next).toEqual({ t: 1 });
  });

  it('does not run a one-shot task twice when its after trigger fires again', () => {
    const wf = compile({ t: { after: ['a'], run: 'h' } });
    const before = fireAll(wf, [['a', 'e1']]);

    const { state, effects } = apply(wf, before, fire('a', 'e2'));

    expect(effects).toEqual([]);
    expect(state.next).toEqual({ t: 1 });
    expect(state.unstarted).toEqual({});
  });

  it('applies an andEvery trigger to an existing unstarted instance without creating another', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [['a', 'e1']]);

    const { state, effects } = apply(wf, before, fire('p', 'e2'));

    expect(effects).toEqual([scheduled('t#0', 't', { a: 'e1', p: 'e2' })]);
    expect(state.next).toEqual({ t: 1 });
  });

  it('creates exactly one new instance for an andEvery firing once the earlier ones were scheduled', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [
      ['a', 'e1'],
      ['p', 'e2'],
    ]);

    const { state, effects } = apply(wf, before, fire('p', 'e3'));

    expect(effects).toEqual([created('t#1', 't'), scheduled('t#1', 't', { a: 'e1', p: 'e3' })]);
    expect(state.next).toEqual({ t: 2 });
    expect(state.unstarted).toEqual({});
  });

  it('creates one new unstarted instance for an andEvery firing the waiting instance already holds', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [['p', 'e1']]);

    const { state, effects } = apply(wf, before, fire('p', 'e2'));

    expect(effects).toEqual([created('t#1', 't')]);
    expect(state.unstarted).toEqual({
      t: [
        { n: 0, kwargs: { p: 'e1' }, abandon: [], createdAt: AT },
        { n: 1, kwargs: { p: 'e2' }, abandon: [], createdAt: AT },
      ],
    });
  });

  it('applies a trigger to every unstarted instance of the task', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [
      ['p', 'e1'],
      ['p', 'e2'],
    ]);

    const { state, effects } = apply(wf, before, fire('a', 'e3'));

    expect(effects).toEqual([
      scheduled('t#0', 't', { p: 'e1', a: 'e3' }),
      scheduled('t#1', 't', { p: 'e2', a: 'e3' }),
    ]);
    expect(state.unstarted).toEqual({});
  });

  it('starts a new andEvery instance with the latest after refs and the unless triggers already fired', () => {
    const wf = compile({ t: { after: ['a', 'b'], andEvery: 'p', unless: ['u1', 'u2'], run: 'h' } });
    const before = fireAll(wf, [
      ['a', 'e1'],
      ['a', 'e2'],
      ['u1', 'e3'],
      ['p', 'e4'],
    ]);

    const { state, effects } = apply(wf, before, fire('p', 'e5'));

    expect(effects).toEqual([created('t#1', 't')]);
    expect(findUnstarted(state, 't#0')).toEqual({
      n: 0,
      kwargs: { a: 'e1', p: 'e4' },
      abandon: ['u1'],
      createdAt: AT,
    });
    expect(findUnstarted(state, 't#1')).toEqual({
      n: 1,
      kwargs: { a: 'e2', p: 'e5' },
      abandon: ['u1'],
      createdAt: AT,
    });
  });

  it('records an unless trigger firing again only once in the abandon state', () => {
    const wf = compile({ t: { after: ['a'], unless: ['u1', 'u2'], run: 'h' } });
    const before = fireAll(wf, [['u1', 'e1']]);

    const { state, effects } = apply(wf, before, fire('u1', 'e2'));

    expect(effects).toEqual([]);
    expect(findUnstarted(state, 't#0')?.abandon).toEqual(['u1']);
  });

  it('does nothing to a one-shot task whose only instance already left the state', () => {
    const wf = compile({ t: { after: ['a', 'b'], unless: ['u1', 'u2'], run: 'h' } });
    const before = fireAll(wf, [
      ['a', 'e1'],
      ['b', 'e2'],
    ]);

    const { state, effects } = apply(wf, before, fire('u1', 'e3'));

    expect(effects).toEqual([]);
    expect(state.unstarted).toEqual({});
    expect(state.next).toEqual({ t: 1 });
  });
});

describe('firing, step 3: abandon or schedule', () => {
  it('abandons the unstarted instance once all unless triggers fired, and not before', () => {
    const wf = compile({ t: { after: ['a', 'b'], unless: ['u1', 'u2'], run: 'h' } });
    const start = fireAll(wf, [['a', 'e1']]);

    const first = apply(wf, start, fire('u1', 'e2'));
    const second = apply(wf, first.state, fire('u2', 'e3'));

    expect(first.effects).toEqual([]);
    expect(findUnstarted(first.state, 't#0')?.abandon).toEqual(['u1']);
    expect(second.effects).toEqual([abandoned('t#0', 't', { a: 'e1' })]);
    expect(second.state.unstarted).toEqual({});
  });

  it('abandons rather than schedules an instance that could do both', () => {
    const wf = compile({ t: { after: ['x'], unless: ['x'], run: 'h' } });

    const { state, effects } = apply(wf, initialState(wf), fire('x', 'e1'));

    expect(effects).toEqual([created('t#0', 't'), abandoned('t#0', 't', { x: 'e1' })]);
    expect(state.unstarted).toEqual({});
  });

  it('abandons at once an andEvery instance created after unless was satisfied, though it could run', () => {
    const wf = compile({ t: { after: [], andEvery: 'p', unless: ['u'], run: 'h' } });
    const before = fireAll(wf, [
      ['p', 'e1'],
      ['u', 'e2'],
    ]);

    const { state, effects } = apply(wf, before, fire('p', 'e3'));

    expect(effects).toEqual([created('t#1', 't'), abandoned('t#1', 't', { p: 'e3' })]);
    expect(state.unstarted).toEqual({});
    expect(state.next).toEqual({ t: 2 });
  });

  it('abandons at once the first instance of a one-shot task whose unless fired first', () => {
    const wf = compile({ t: { after: ['a'], unless: ['u'], run: 'h' } });
    const first = apply(wf, initialState(wf), fire('u', 'e1'));

    const second = apply(wf, first.state, fire('a', 'e2'));

    expect(first.effects).toEqual([created('t#0', 't'), abandoned('t#0', 't', {})]);
    expect(second.effects).toEqual([]);
    expect(second.state.next).toEqual({ t: 1 });
  });

  it('never abandons an instance already scheduled', () => {
    const wf = compile({ t: { after: ['a'], unless: ['u'], run: 'h' } });
    const before = fireAll(wf, [['a', 'e1']]);

    const { state, effects } = apply(wf, before, fire('u', 'e2'));

    expect(effects).toEqual([]);
    expect(state.unstarted).toEqual({});
    expect(state.fired.u).toEqual({ count: 1, last: 'e2' });
  });

  it('abandons only the unstarted andEvery instances, leaving scheduled ones alone', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', unless: ['u'], run: 'h' } });
    const before = fireAll(wf, [
      ['a', 'e1'],
      ['p', 'e2'],
    ]);
    const withWaiting: SessionState = {
      ...before,
      next: { t: 2 },
      unstarted: { t: [{ n: 1, kwargs: { p: 'e9' }, abandon: [], createdAt: AT }] },
    };

    const { state, effects } = apply(wf, withWaiting, fire('u', 'e3'));

    expect(effects).toEqual([abandoned('t#1', 't', { p: 'e9' })]);
    expect(state.unstarted).toEqual({});
    expect(state.next).toEqual({ t: 2 });
  });

  it('keeps the creation time of an instance in its seed, not the time it was scheduled', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });
    const before = apply(wf, initialState(wf), fire('a', 'e1', AT)).state;

    const { effects } = apply(wf, before, fire('b', 'e2', LATER));

    expect(effects).toEqual([scheduled('t#0', 't', { a: 'e1', b: 'e2' }, AT)]);
  });
});

describe('firing, step 4: the latest kwargs of a trigger', () => {
  it('records how often a mentioned trigger fired and the event holding its latest kwargs', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });

    const state = fireAll(wf, [
      ['a', 'e1'],
      ['a', 'e2'],
    ]);

    expect(state.fired).toEqual({ a: { count: 2, last: 'e2' } });
  });

  it('makes a later new instance reference the newer event id', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [
      ['a', 'e1'],
      ['p', 'e2'],
      ['a', 'e3'],
    ]);

    const { effects } = apply(wf, before, fire('p', 'e4'));

    expect(effects).toEqual([created('t#1', 't'), scheduled('t#1', 't', { a: 'e3', p: 'e4' })]);
  });

  it('has no effects for a trigger no task mentions, and only remembers that it fired', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });
    const before = fireAll(wf, [['a', 'e1']]);

    const { state, effects } = apply(wf, before, fire('nobody', 'e2'));

    expect(effects).toEqual([]);
    // A task configured later for the session may wait for it: it is remembered like any other.
    expect(state).toEqual({
      ...before,
      fired: { ...before.fired, nobody: { count: 1, last: 'e2' } },
    });
  });

  it('stops remembering new triggers no task mentions once MAX_REMEMBERED_TRIGGERS are known', () => {
    const wf = compile({ t: { after: ['a', 'b'], run: 'h' } });
    let state = fireAll(wf, [['a', 'e1']]);
    for (let i = 0; i < MAX_REMEMBERED_TRIGGERS + 10; i++) {
      state = apply(wf, state, fire(`n${i}`, `e-n${i}`)).state;
    }
    expect(Object.keys(state.fired)).toHaveLength(MAX_REMEMBERED_TRIGGERS);
    // Those already remembered keep counting, and those tasks listen to are always remembered.
    state = apply(wf, state, fire('n0', 'e-again')).state;
    state = apply(wf, state, fire('b', 'e-b')).state;
    expect(state.fired.n0).toEqual({ count: 2, last: 'e-again' });
    expect(state.fired.b).toEqual({ count: 1, last: 'e-b' });
  });
});

describe('firing: cascades and instance numbering', () => {
  it('treats the cascade of a task as a fire of the task name', () => {
    const wf = compile({
      a: { after: ['x'], run: 'h' },
      b: { after: ['a'], run: 'h' },
    });
    const before = fireAll(wf, [['x', 'e1']]);

    const { state, effects } = apply(wf, before, fire('a', 'cascade#a#0'));

    expect(effects).toEqual([created('b#0', 'b'), scheduled('b#0', 'b', { a: 'cascade#a#0' })]);
    expect(state.next).toEqual({ a: 1, b: 1 });
  });

  it('numbers instances per task from 0, in creation order', () => {
    const wf = compile({
      t1: { after: [], andEvery: 'p', run: 'h' },
      t2: { after: [], andEvery: 'p', run: 'h' },
      t3: { after: [], andEvery: 'q', run: 'h' },
    });
    const before = fireAll(wf, [
      ['p', 'e1'],
      ['q', 'e2'],
    ]);

    const { state, effects } = apply(wf, before, fire('p', 'e3'));

    expect(effects).toEqual([
      created('t1#1', 't1'),
      scheduled('t1#1', 't1', { p: 'e3' }),
      created('t2#1', 't2'),
      scheduled('t2#1', 't2', { p: 'e3' }),
    ]);
    expect(state.next).toEqual({ t1: 2, t2: 2, t3: 1 });
  });
});

describe('trigger and task names that are Object.prototype keys', () => {
  it("does not run a task before its after trigger 'constructor' fired", () => {
    const wf = compile({ t: { after: ['a', 'constructor'], run: 'h' } });

    const { state, effects } = apply(wf, initialState(wf), fire('a', 'e1'));

    expect(effects).toEqual([created('t#0', 't')]);
    expect(findUnstarted(state, 't#0')?.kwargs).toEqual({ a: 'e1' });
  });

  it("creates the first instance of a task named 'toString'", () => {
    const wf = compile({ toString: { after: ['x'], run: 'h' } });

    const { effects } = apply(wf, initialState(wf), fire('x', 'e1'));

    expect(effects).toEqual([
      created('toString#0', 'toString'),
      scheduled('toString#0', 'toString', { x: 'e1' }),
    ]);
  });

  it("records a trigger named '__proto__' as fired, as an own key", () => {
    const wf = compile({ t: { after: ['__proto__', 'b'], run: 'h' } });

    const { state } = apply(wf, initialState(wf), fire('__proto__', 'e1'));

    expect(Object.keys(state.fired)).toEqual(['__proto__']);
    expect(findUnstarted(state, 't#0')?.kwargs).toEqual({ ['__proto__']: 'e1' });
  });
});

function outcome(o: HandlerOutcome, attempt = 0, instance = 't#0'): OutcomeEvent {
  return { type: 'outcome', instance, task: 't', attempt, outcome: o, at: AT };
}

describe('decideOutcome', () => {
  // `t`'s cascade has a listener (`u`), so finishing `t` fires it.
  const wf = compile({ t: { after: ['x'], run: 'h' }, u: { after: ['t'], run: 'h' } });

  it('writes no cascade for a task nothing listens to: the record alone', () => {
    const leaf = compile({ t: { after: ['x'], run: 'h' } });

    const effects = decideOutcome(leaf, outcome({ kind: 'returned', value: { done: 1 } }));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['running'],
        status: 'finished',
        result: { done: 1 },
        at: AT,
      },
    ]);
  });

  it.each([
    ['after', { u: { after: ['t'], run: 'h' } }],
    ['andEvery', { u: { after: [], andEvery: 't', run: 'h' } }],
    ['unless', { u: { after: ['x'], unless: ['t'], run: 'h' } }],
  ])('cascades a task another task names in %s', (_, others) => {
    const listened = compile({ t: { after: ['x'], run: 'h' }, ...others });

    const effects = decideOutcome(listened, outcome({ kind: 'returned', value: {} }));

    expect(effects.map((e) => e.type)).toEqual(['record', 'cascade']);
  });

  it('finishes an instance that returned an object and cascades its result under cascade#<instance>', () => {
    const result = { score: 42, nested: { ok: true } };

    const effects = decideOutcome(wf, outcome({ kind: 'returned', value: result }));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['running'],
        status: 'finished',
        result,
        at: AT,
      },
      { type: 'cascade', eventId: 'cascade#t#0', trigger: 't', kwargs: result },
    ]);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
  ])('finishes an instance that returned %s with the result {} and cascades {}', (_, value) => {
    const effects = decideOutcome(wf, outcome({ kind: 'returned', value }, 0, 't#3'));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#3',
        task: 't',
        expect: ['running'],
        status: 'finished',
        result: {},
        at: AT,
      },
      { type: 'cascade', eventId: 'cascade#t#3', trigger: 't', kwargs: {} },
    ]);
  });

  it.each([
    ['a number', 42],
    ['a string', 'done'],
    ['a boolean', true],
    ['an array', [1, 2]],
  ])(
    'fails an instance that returned %s with InvalidResultError and no cascade',
    (shape, value) => {
      const effects = decideOutcome(wf, outcome({ kind: 'returned', value }));

      expect(effects).toHaveLength(1);
      expect(effects[0]).toMatchObject({
        type: 'record',
        instance: 't#0',
        expect: ['running'],
        status: 'failed',
        error: { type: 'InvalidResultError' },
      });
      const record = effects[0] as { error: { message: string } };
      expect(record.error.message).toContain(`task 't' returned ${shape}`);
    },
  );

  it('replays an instance that retried with attempts left and asks for a clone with cooldown and replacement kwargs', () => {
    const replacementKwargs = { x: { page: 2 } };

    const effects = decideOutcome(
      wf,
      outcome({ kind: 'retry', cooldownSeconds: 30, replacementKwargs }, 1, 't#1'),
    );

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#1',
        task: 't',
        expect: ['running'],
        status: 'replayed',
        at: AT,
      },
      {
        type: 'retry',
        event: {
          type: 'clone',
          eventId: 'retry#t#1',
          parent: 't#1',
          task: 't',
          parentAttempt: 1,
          kwargs: replacementKwargs,
          delaySeconds: 30,
          at: AT,
        },
      },
    ]);
  });

  it('asks for a clone with no delay and inherited kwargs when the retry gives neither', () => {
    const effects = decideOutcome(wf, outcome({ kind: 'retry' }));

    expect(effects[1]).toEqual({
      type: 'retry',
      event: {
        type: 'clone',
        eventId: 'retry#t#0',
        parent: 't#0',
        task: 't',
        parentAttempt: 0,
        at: AT,
      },
    });
  });

  it('rounds a fractional cooldown up to whole seconds', () => {
    const effects = decideOutcome(wf, outcome({ kind: 'retry', cooldownSeconds: 1.2 }));

    expect(effects[1]).toMatchObject({ type: 'retry', event: { delaySeconds: 2 } });
  });

  it('still allows a retry at attempt maxRetries - 1', () => {
    const effects = decideOutcome(wf, outcome({ kind: 'retry' }, 2, 't#2'));

    expect(effects.map((e) => e.type)).toEqual(['record', 'retry']);
    expect(effects[0]).toMatchObject({ status: 'replayed' });
  });

  it('fails an instance that retried at attempt maxRetries with MaxRetriesExceeded', () => {
    const effects = decideOutcome(wf, outcome({ kind: 'retry', cooldownSeconds: 5 }, 3, 't#3'));

    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({
      type: 'record',
      instance: 't#3',
      expect: ['running'],
      status: 'failed',
      error: { type: 'MaxRetriesExceeded' },
    });
  });

  it('fails the first retry of a task with maxRetries 0', () => {
    const strict = compile({ t: { after: ['x'], run: 'h', maxRetries: 0 } });

    const effects = decideOutcome(strict, outcome({ kind: 'retry' }));

    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ status: 'failed', error: { type: 'MaxRetriesExceeded' } });
  });

  it('skips an instance that threw Skip, keeping the metadata, with no cascade', () => {
    const effects = decideOutcome(wf, outcome({ kind: 'skip', metadata: { reason: 'empty' } }));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['running'],
        status: 'skipped',
        metadata: { reason: 'empty' },
        at: AT,
      },
    ]);
  });

  it('fails an instance that threw, keeping the error as given, with no cascade', () => {
    const error = { type: 'TypeError', message: 'boom', stack: 'at h', context: { row: 3 } };

    const effects = decideOutcome(wf, outcome({ kind: 'threw', error }));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['running'],
        status: 'failed',
        error,
        at: AT,
      },
    ]);
  });

  it('carries the highest log level onto the record', () => {
    const event = { ...outcome({ kind: 'returned', value: {} }), logLevel: 'warn' as const };

    const effects = decideOutcome(wf, event);

    expect(effects[0]).toMatchObject({ type: 'record', logLevel: 'warn' });
  });

  it('is what apply does with an outcome event, leaving the state unchanged', () => {
    const state = fireAll(wf, [['x', 'e1']]);
    const event = outcome({ kind: 'returned', value: { a: 1 } });

    const applied = apply(wf, state, event);

    expect(applied.effects).toEqual(decideOutcome(wf, event));
    expect(applied.state).toEqual(state);
  });
});

function replay(
  instance: string,
  observed?: ReplayEvent['observed'],
  kwargs?: ReplayEvent['kwargs'],
): ReplayEvent {
  return {
    type: 'replay',
    eventId: 'r1',
    instance,
    ...(observed ? { observed } : {}),
    ...(kwargs ? { kwargs } : {}),
    at: LATER,
  };
}

describe('replaying a failed instance', () => {
  const wf = compile({ t: { after: ['x'], run: 'h', maxRetries: 0 } });

  it('records it replayed and creates and schedules a clone at once, with attempt + 1 and inherited kwargs', () => {
    const before = fireAll(wf, [['x', 'e1']]);

    const { state, effects } = apply(
      wf,
      before,
      replay('t#0', { status: 'failed', task: 't', attempt: 0 }),
    );

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['failed'],
        status: 'replayed',
        at: LATER,
      },
      created('t#1', 't', LATER),
      {
        type: 'schedule',
        instance: {
          name: 't#1',
          task: 't',
          attempt: 1,
          parent: 't#0',
          kwargs: { inherit: 't#0' },
          createdAt: LATER,
        },
        delaySeconds: 0,
      },
    ]);
    expect(state.next).toEqual({ t: 2 });
    expect(state.unstarted).toEqual({});
  });

  it('gives the clone exactly the replacement kwargs when some are given', () => {
    const before = fireAll(wf, [['x', 'e1']]);
    const kwargs = { other: { fixed: true } };

    const { effects } = apply(
      wf,
      before,
      replay('t#0', { status: 'failed', task: 't', attempt: 0 }, kwargs),
    );

    expect(effects[2]).toMatchObject({
      type: 'schedule',
      instance: { name: 't#1', kwargs: { literal: kwargs } },
    });
  });

  it('is allowed even when the failed instance used up its retries', () => {
    const before = fireAll(wf, [['x', 'e1']]);

    const { effects } = apply(
      wf,
      before,
      replay('t#0', { status: 'failed', task: 't', attempt: 7 }),
    );

    expect(effects[2]).toMatchObject({
      type: 'schedule',
      instance: { name: 't#1', attempt: 8, parent: 't#0' },
    });
  });

  it('schedules the clone without a new unless check', () => {
    const guarded = compile({ t: { after: ['x'], unless: ['u'], run: 'h' } });
    const before = fireAll(guarded, [
      ['x', 'e1'],
      ['u', 'e2'],
    ]);

    const { effects } = apply(
      guarded,
      before,
      replay('t#0', { status: 'failed', task: 't', attempt: 0 }),
    );

    expect(effects.map((e) => e.type)).toEqual(['record', 'create', 'schedule']);
  });

  it.each<InstanceStatus>(['scheduled', 'running', 'finished', 'abandoned', 'replayed', 'skipped'])(
    'refuses an instance that is %s with INSTANCE_NOT_FAILED and changes nothing',
    (status) => {
      const before = fireAll(wf, [['x', 'e1']]);

      const { state, effects } = apply(
        wf,
        before,
        replay('t#0', { status, task: 't', attempt: 0 }),
      );

      expect(effects).toEqual([
        {
          type: 'reject',
          eventId: 'r1',
          code: 'INSTANCE_NOT_FAILED',
          message: `cannot replay instance 't#0': it is ${status}, and only a failed instance can be replayed`,
        },
      ]);
      expect(state).toEqual(before);
    },
  );

  it('refuses an instance that is still unstarted in the state', () => {
    const waiting = compile({ t: { after: ['a', 'b'], run: 'h' } });
    const before = fireAll(waiting, [['a', 'e1']]);

    const { state, effects } = apply(waiting, before, replay('t#0'));

    expect(effects).toEqual([
      expect.objectContaining({ type: 'reject', code: 'INSTANCE_NOT_FAILED' }),
    ]);
    expect((effects[0] as { message: string }).message).toContain('it is unstarted');
    expect(state).toEqual(before);
  });

  it('refuses an unknown instance with NOT_FOUND', () => {
    const before = fireAll(wf, [['x', 'e1']]);

    const { state, effects } = apply(wf, before, replay('t#9'));

    expect(effects).toEqual([
      {
        type: 'reject',
        eventId: 'r1',
        code: 'NOT_FOUND',
        message: "instance 't#9' does not exist in this session",
      },
    ]);
    expect(state).toEqual(before);
  });

  it('refuses an instance of a task the workflow does not have with NOT_FOUND', () => {
    const { effects } = apply(
      wf,
      initialState(wf),
      replay('gone#0', { status: 'failed', task: 'gone', attempt: 0 }),
    );

    expect(effects).toEqual([expect.objectContaining({ type: 'reject', code: 'NOT_FOUND' })]);
  });
});

function skip(
  instance: string,
  observed: SkipEvent['observed'],
  cascade: boolean,
  result?: SkipEvent['result'],
): SkipEvent {
  return {
    type: 'skip',
    eventId: 's1',
    instance,
    ...(observed ? { observed } : {}),
    cascade,
    ...(result ? { result } : {}),
    at: LATER,
  };
}

describe('skipping a failed instance', () => {
  const wf = compile({ t: { after: ['x'], run: 'h' }, u: { after: ['t'], run: 'h' } });
  const failed = { status: 'failed' as const, task: 't' };

  it('records it skipped without a cascade when cascade is false', () => {
    const before = fireAll(wf, [['x', 'e1']]);

    const { state, effects } = apply(wf, before, skip('t#0', failed, false, { ignored: true }));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['failed'],
        status: 'skipped',
        metadata: { cascade: false },
        at: LATER,
      },
    ]);
    expect(state).toEqual(before);
  });

  it('cascades the given result under cascade#<instance> when cascade is true', () => {
    const before = fireAll(wf, [['x', 'e1']]);

    const { effects } = apply(wf, before, skip('t#0', failed, true, { score: 0 }));

    expect(effects).toEqual([
      {
        type: 'record',
        instance: 't#0',
        task: 't',
        expect: ['failed'],
        status: 'skipped',
        metadata: { cascade: true, result: { score: 0 } },
        at: LATER,
      },
      {
        type: 'cascade',
        eventId: 'cascade#t#0',
        trigger: 't',
        kwargs: { score: 0 },
        skip: true,
      },
    ]);
  });

  it('cascades {} when cascade is true and no result is given', () => {
    const { effects } = apply(wf, initialState(wf), skip('t#0', failed, true));

    expect(effects[1]).toEqual({
      type: 'cascade',
      eventId: 'cascade#t#0',
      trigger: 't',
      kwargs: {},
      skip: true,
    });
  });

  it('records a cascading skip of a task nothing listens to without a cascade', () => {
    const leaf = compile({ t: { after: ['x'], run: 'h' } });

    const { effects } = apply(leaf, initialState(leaf), skip('t#0', failed, true));

    expect(effects.map((e) => e.type)).toEqual(['record']);
  });

  it('refuses an instance that is not failed with INSTANCE_NOT_FAILED and changes nothing', () => {
    const before = fireAll(wf, [['x', 'e1']]);

    const { state, effects } = apply(
      wf,
      before,
      skip('t#0', { status: 'finished', task: 't' }, true),
    );

    expect(effects).toEqual([
      {
        type: 'reject',
        eventId: 's1',
        code: 'INSTANCE_NOT_FAILED',
        message:
          "cannot skip instance 't#0': it is finished, and only a failed instance can be skipped",
      },
    ]);
    expect(state).toEqual(before);
  });

  it('refuses an instance that is still unstarted in the state', () => {
    const waiting = compile({ t: { after: ['a', 'b'], run: 'h' } });
    const before = fireAll(waiting, [['a', 'e1']]);

    const { effects } = apply(waiting, before, skip('t#0', undefined, true));

    expect(effects).toEqual([
      expect.objectContaining({ type: 'reject', code: 'INSTANCE_NOT_FAILED' }),
    ]);
  });

  it('refuses an unknown instance with NOT_FOUND', () => {
    const { effects } = apply(wf, initialState(wf), skip('t#0', undefined, true));

    expect(effects).toEqual([expect.objectContaining({ type: 'reject', code: 'NOT_FOUND' })]);
  });
});

describe('clone events (a handler retry)', () => {
  it('creates and schedules the clone after the cooldown, with attempt + 1 and the replacement kwargs', () => {
    const wf = compile({ t: { after: ['x'], run: 'h' } });
    const before = fireAll(wf, [['x', 'e1']]);
    const event: CloneEvent = {
      type: 'clone',
      eventId: 'retry#t#0',
      parent: 't#0',
      task: 't',
      parentAttempt: 0,
      kwargs: { x: { page: 2 } },
      delaySeconds: 30,
      at: LATER,
    };

    const { state, effects } = apply(wf, before, event);

    expect(effects).toEqual([
      created('t#1', 't', LATER),
      {
        type: 'schedule',
        instance: {
          name: 't#1',
          task: 't',
          attempt: 1,
          parent: 't#0',
          kwargs: { literal: { x: { page: 2 } } },
          createdAt: LATER,
        },
        delaySeconds: 30,
      },
    ]);
    expect(state.next).toEqual({ t: 2 });
  });

  it('inherits the parent kwargs and schedules at once when the retry gave neither', () => {
    const wf = compile({ t: { after: ['x'], run: 'h' } });
    const before = fireAll(wf, [['x', 'e1']]);
    const event: CloneEvent = {
      type: 'clone',
      eventId: 'retry#t#0',
      parent: 't#0',
      task: 't',
      parentAttempt: 2,
      at: AT,
    };

    const { effects } = apply(wf, before, event);

    expect(effects[1]).toEqual({
      type: 'schedule',
      instance: {
        name: 't#1',
        task: 't',
        attempt: 3,
        parent: 't#0',
        kwargs: { inherit: 't#0' },
        createdAt: AT,
      },
      delaySeconds: 0,
    });
  });

  it('numbers the clone after every existing instance, unstarted ones included', () => {
    const wf = compile({ t: { after: ['a'], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [
      ['a', 'e1'],
      ['p', 'e2'],
      ['p', 'e3'],
    ]);
    const withWaiting: SessionState = {
      ...before,
      next: { t: 3 },
      unstarted: { t: [{ n: 2, kwargs: { p: 'e4' }, abandon: [], createdAt: AT }] },
    };
    const event: CloneEvent = {
      type: 'clone',
      eventId: 'retry#t#0',
      parent: 't#0',
      task: 't',
      parentAttempt: 0,
      at: AT,
    };

    const { state, effects } = apply(wf, withWaiting, event);

    expect(effects[0]).toEqual(created('t#3', 't'));
    expect(state.next).toEqual({ t: 4 });
    expect(state.unstarted).toEqual(withWaiting.unstarted);
  });

  it('keeps numbering new instances after a clone', () => {
    const wf = compile({ t: { after: [], andEvery: 'p', run: 'h' } });
    const before = fireAll(wf, [['p', 'e1']]);
    const event: CloneEvent = {
      type: 'clone',
      eventId: 'retry#t#0',
      parent: 't#0',
      task: 't',
      parentAttempt: 0,
      at: AT,
    };
    const afterClone = apply(wf, before, event).state;

    const { effects } = apply(wf, afterClone, fire('p', 'e2'));

    expect(effects).toEqual([created('t#2', 't'), scheduled('t#2', 't', { p: 'e2' })]);
  });
});

describe('purity', () => {
  const wf = compile({
    a: { after: ['x', 'y'], andEvery: 'p', unless: ['u1', 'u2'], run: 'h' },
    b: { after: ['a'], run: 'h' },
  });
  const events = [
    fire('x', 'e1'),
    fire('p', 'e2'),
    fire('u1', 'e3'),
    fire('p', 'e4'),
    fire('y', 'e5'),
    fire('a', 'cascade#a#0'),
  ];

  function runAll() {
    let state = initialState(wf);
    const effects: Effect[] = [];
    for (const event of events) {
      const applied = apply(wf, state, event);
      state = applied.state;
      effects.push(...applied.effects);
    }
    return { state, effects };
  }

  it('gives deep-equal state and effects for the same inputs', () => {
    const first = runAll();

    const second = runAll();

    expect(second).toEqual(first);
    expect(first.effects.length).toBeGreaterThan(0);
  });

  it('does not mutate the input state of any event type', () => {
    const base = fireAll(wf, [
      ['x', 'e1'],
      ['p', 'e2'],
      ['p', 'e3'],
      ['u1', 'e4'],
    ]);
    const snapshot = structuredClone(base);
    const frozen = deepFreeze(base);
    const all: Array<Parameters<typeof apply>[2]> = [
      fire('y', 'e5'),
      fire('u2', 'e6'),
      fire('p', 'e7'),
      { type: 'clone', eventId: 'retry#a#0', parent: 'a#0', task: 'a', parentAttempt: 0, at: AT },
      replay('a#0', { status: 'failed', task: 'a', attempt: 0 }),
      skip('a#0', { status: 'failed', task: 'a' }, true),
      outcome({ kind: 'returned', value: {} }),
    ];

    for (const event of all) apply(wf, frozen, event);

    expect(frozen).toEqual(snapshot);
    expect(Object.keys(frozen.unstarted)).toEqual(['a']);
    expect(frozen.unstarted.a?.map((i) => i.n)).toEqual([0, 1]);
  });

  it('binds the same reducer to a workflow through sessionEngine', () => {
    const engine = sessionEngine(wf);
    const state = engine.initialState();

    const bound = engine.apply(state, fire('x', 'e1'));

    expect(bound).toEqual(apply(wf, initialState(wf), fire('x', 'e1')));
    expect(engine.decideOutcome(outcome({ kind: 'skip' }))).toEqual(
      decideOutcome(wf, outcome({ kind: 'skip' })),
    );
  });
});
