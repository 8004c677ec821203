/**
 * The reducer's rules for the manager API's events: metadata merges, resolved logs, statuses set
 * by hand (with their cascade), and a session's configuration. Pure: no store, no clock.
 */
import { describe, expect, it } from 'vitest';
import {
  apply,
  type CompiledWorkflow,
  compileWorkflow,
  configureTasks,
  type Effect,
  initialState,
  type Observed,
  SETTABLE_STATUSES,
  type SessionState,
  statusCascadeEventId,
} from '../../lib/engine/index.ts';
import { defineWorkflow } from '../../lib/index.ts';
import type { InstanceStatus, TaskConfig } from '../../lib/types.ts';

const AT = '2026-01-01T00:00:00.000Z';

function compile(tasks: Record<string, TaskConfig>): CompiledWorkflow {
  return compileWorkflow(defineWorkflow('w', tasks));
}

const WF = compile({
  t_a: { after: ['x'], run: 'h' },
  t_b: { after: ['t_a'], run: 'h' },
  t_wait: { after: ['x', 'y'], run: 'h' },
});

function observed(status: InstanceStatus, metadata?: Record<string, unknown>): Observed {
  return { status, task: 't_a', ...(metadata ? { metadata } : {}) };
}

/** The state after `x` fired: t_a#0 scheduled (its record lives outside), t_wait#0 unstarted. */
function afterX(): SessionState {
  return apply(WF, initialState(WF), { type: 'fire', eventId: 'e1', trigger: 'x', at: AT }).state;
}

describe('metadata', () => {
  it('merges at the top level into what the instance has, guarded by its status, keeping a lease', () => {
    const { state, effects } = apply(WF, afterX(), {
      type: 'metadata',
      eventId: 'm1',
      instance: 't_a#0',
      observed: observed('running', { keep: 1, over: { a: 1 } }),
      metadata: { over: { b: 2 }, added: true },
      at: AT,
    });
    expect(state).toEqual(afterX());
    expect(effects).toEqual<Effect[]>([
      {
        type: 'record',
        instance: 't_a#0',
        task: 't_a',
        expect: ['running'],
        status: 'running',
        metadata: { keep: 1, over: { b: 2 }, added: true },
        keepLease: true,
        at: AT,
      },
    ]);
  });

  it('keeps metadata of an unstarted instance in the state, and its record starts with it', () => {
    const annotated = apply(WF, afterX(), {
      type: 'metadata',
      eventId: 'm1',
      instance: 't_wait#0',
      metadata: { note: 'vip' },
      at: AT,
    });
    expect(annotated.effects).toEqual([]);
    expect(annotated.state.unstarted.t_wait?.[0]?.metadata).toEqual({ note: 'vip' });
    const { effects } = apply(WF, annotated.state, {
      type: 'fire',
      eventId: 'e2',
      trigger: 'y',
      at: AT,
    });
    const schedule = effects.find((e) => e.type === 'schedule');
    expect(schedule).toMatchObject({ instance: { name: 't_wait#0', metadata: { note: 'vip' } } });
  });

  it('refuses an instance the session does not have, and changes nothing', () => {
    const before = afterX();
    const { state, effects } = apply(WF, before, {
      type: 'metadata',
      eventId: 'm1',
      instance: 't_b#4',
      metadata: { a: 1 },
      at: AT,
    });
    expect(state).toBe(before);
    expect(effects).toEqual([expect.objectContaining({ type: 'reject', code: 'NOT_FOUND' })]);
  });
});

describe('resolve-logs', () => {
  it('sets logsResolved on the instance as read, keeping its status and lease', () => {
    const { effects } = apply(WF, afterX(), {
      type: 'resolve-logs',
      eventId: 'r1',
      instance: 't_a#0',
      observed: observed('failed'),
      at: AT,
    });
    expect(effects).toEqual([
      expect.objectContaining({
        type: 'record',
        expect: ['failed'],
        status: 'failed',
        logsResolved: true,
        keepLease: true,
      }),
    ]);
  });

  it('refuses an unstarted instance: it has no record and no logs yet', () => {
    const { effects } = apply(WF, afterX(), {
      type: 'resolve-logs',
      eventId: 'r1',
      instance: 't_wait#0',
      at: AT,
    });
    expect(effects).toEqual([expect.objectContaining({ type: 'reject', code: 'INSTANCE_STATE' })]);
  });
});

describe('status', () => {
  const status = (
    from: InstanceStatus,
    to: InstanceStatus,
    more: { cascade?: boolean; cascadeKwargs?: Record<string, unknown> } = {},
  ) =>
    apply(WF, afterX(), {
      type: 'status',
      eventId: 's1',
      instance: 't_a#0',
      observed: observed(from, { old: true }),
      status: to,
      metadata: { by: 'ops' },
      cascade: more.cascade ?? false,
      ...(more.cascadeKwargs ? { cascadeKwargs: more.cascadeKwargs } : {}),
      at: AT,
    });

  it.each(['scheduled', 'running'] as const)('refuses an instance that is %s', (from) => {
    expect(status(from, 'finished').effects).toEqual([
      expect.objectContaining({ type: 'reject', code: 'INSTANCE_STATE' }),
    ]);
  });

  it.each(['unstarted', 'scheduled', 'running'] as const)('refuses to set %s by hand', (to) => {
    expect(SETTABLE_STATUSES).not.toContain(to);
    expect(status('failed', to).effects).toEqual([
      expect.objectContaining({ type: 'reject', code: 'INSTANCE_STATE' }),
    ]);
  });

  it('sets the status, merges metadata, and cascades the task name once per request', () => {
    const { effects } = status('failed', 'finished', { cascade: true, cascadeKwargs: { n: 1 } });
    expect(effects).toEqual<Effect[]>([
      {
        type: 'record',
        instance: 't_a#0',
        task: 't_a',
        expect: ['failed'],
        status: 'finished',
        metadata: { old: true, by: 'ops' },
        at: AT,
      },
      {
        type: 'cascade',
        eventId: statusCascadeEventId('t_a#0', 's1'),
        trigger: 't_a',
        kwargs: { n: 1 },
        source: 'control',
      },
    ]);
  });

  it('does not cascade without cascade: true, nor a task nothing listens to', () => {
    expect(status('failed', 'finished').effects.map((e) => e.type)).toEqual(['record']);
    const lone = compile({ t_a: { after: ['x'], run: 'h' } });
    const { effects } = apply(lone, initialState(lone), {
      type: 'status',
      eventId: 's1',
      instance: 't_a#0',
      observed: observed('failed'),
      status: 'finished',
      cascade: true,
      at: AT,
    });
    expect(effects.map((e) => e.type)).toEqual(['record']);
  });
});

describe('configure', () => {
  it('changes only the version: nothing fired before is applied again', () => {
    const before = afterX();
    const { state, effects } = apply(WF, before, {
      type: 'configure',
      eventId: 'c1',
      version: 'abc',
      at: AT,
    });
    expect(effects).toEqual([]);
    expect(state).toEqual({ ...before, version: 'abc' });
  });

  it('merges tasks by name, a same-name task replaced whole, the others kept', () => {
    const base = defineWorkflow('w', {
      t_a: { after: ['x'], run: 'h', withParams: { x: { a: 1 } } },
      t_b: { after: ['t_a'], run: 'h' },
    });
    const merged = configureTasks(base, {
      t_a: { after: ['y'], run: 'h2' },
      t_c: { after: ['t_b'], run: 'h' },
    });
    expect(merged.tasks).toEqual({
      t_a: { after: ['y'], run: 'h2' },
      t_b: { after: ['t_a'], run: 'h' },
      t_c: { after: ['t_b'], run: 'h' },
    });
    expect(base.tasks.t_a).toEqual({ after: ['x'], run: 'h', withParams: { x: { a: 1 } } });
  });

  it('refuses a merge that is not a valid workflow, naming the task', () => {
    const base = defineWorkflow('w', { t_a: { after: ['x'], run: 'h' } });
    expect(() =>
      configureTasks(base, {
        t_a: { after: ['t_b'], run: 'h' },
        t_b: { after: ['t_a'], run: 'h' },
      }),
    ).toThrow(/t_a|t_b/);
  });
});
