/**
 * Workflow validation and compilation: defineWorkflow / compileWorkflow / checkHandlers.
 * Every rejection must be a WorkflowError whose message names the task and the problem.
 */
import { describe, expect, it } from 'vitest';
import { checkHandlers, compileWorkflow, DEFAULT_MAX_RETRIES } from '../../lib/engine/index.ts';
import { defineWorkflow, WorkflowError } from '../../lib/index.ts';
import type { TaskConfig } from '../../lib/types.ts';

/** Calls `fn`, expecting a WorkflowError; returns it. */
function workflowErrorOf(fn: () => unknown): WorkflowError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WorkflowError);
    return e as WorkflowError;
  }
  throw new Error('expected a WorkflowError, but nothing was thrown');
}

/** Defines a one-task workflow whose task `t` has `config` (which may be ill-typed on purpose). */
function defineOne(config: unknown, task = 't') {
  return defineWorkflow('w', { [task]: config as TaskConfig });
}

describe('defineWorkflow: task names', () => {
  it('rejects a task name with a space, naming the task', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: 'h' }, 'bad name'));

    expect(err.message).toContain('"bad name"');
    expect(err.message).toContain('task name must match');
    expect(err.task).toBe('bad name');
  });

  it('rejects a task name with "#", which is reserved for instance names', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: 'h' }, 't#1'));

    expect(err.message).toContain('"t#1"');
    expect(err.message).toContain('task name must match');
    expect(err.task).toBe('t#1');
  });

  it('rejects a task name longer than 128 characters', () => {
    const long = 'a'.repeat(129);

    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: 'h' }, long));

    expect(err.message).toContain(`"${long}"`);
    expect(err.message).toContain('task name must match');
  });

  it('accepts a task name of exactly 128 characters', () => {
    const name = 'a'.repeat(128);

    const wf = defineOne({ after: ['x'], run: 'h' }, name);

    expect(Object.keys(wf.tasks)).toEqual([name]);
  });
});

describe('defineWorkflow: trigger names', () => {
  it('rejects a bad trigger name in after, naming the task and the entry', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['ok', 'bad name'], run: 'h' }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'after.1'");
    expect(err.message).toContain('must match');
    expect(err.task).toBe('t');
  });

  it('rejects a bad trigger name in unless, naming the task and the entry', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], unless: ['a#b'], run: 'h' }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'unless.0'");
    expect(err.message).toContain('must match');
  });

  it('rejects a bad trigger name in andEvery, naming the task', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], andEvery: 'p q', run: 'h' }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'andEvery'");
    expect(err.message).toContain('must match');
  });

  it('rejects an andEvery that is a number, saying it must be a string', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], andEvery: 5, run: 'h' }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'andEvery'");
    expect(err.message).toContain('must be a string');
  });

  it('rejects an andEvery that is an array, saying it must be a string', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], andEvery: ['p'], run: 'h' }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'andEvery'");
    expect(err.message).toContain('must be a string');
  });
});

describe('defineWorkflow: directive shapes', () => {
  it('rejects a task without after, saying after is required', () => {
    const err = workflowErrorOf(() => defineOne({ run: 'h' }));

    expect(err.message).toBe("task 't': 'after' is required");
    expect(err.task).toBe('t');
  });

  it('rejects an after that is not an array, saying it must be an array', () => {
    const err = workflowErrorOf(() => defineOne({ after: 'x', run: 'h' }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'after'");
    expect(err.message).toContain('must be an array');
  });

  it('rejects a task without run, saying run is required', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'] }));

    expect(err.message).toBe("task 't': 'run' is required");
  });

  it('rejects an empty run, saying it must name a task handler', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: '' }));

    expect(err.message).toBe("task 't': 'run' must name a task handler");
  });

  it('rejects a withParams value that is a number, naming the key', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: 'h', withParams: { x: 1 } }));

    expect(err.message).toBe("task 't': 'withParams.x' must be a JSON object");
  });

  it('rejects a withParams value that is an array, naming the key', () => {
    const err = workflowErrorOf(() =>
      defineOne({ after: ['x'], run: 'h', withParams: { ok: {}, list: [1] } }),
    );

    expect(err.message).toBe("task 't': 'withParams.list' must be a JSON object");
  });

  it('rejects a negative maxRetries', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: 'h', maxRetries: -1 }));

    expect(err.message).toBe("task 't': 'maxRetries' must be 0 or more");
  });

  it('rejects a maxRetries that is not a whole number, saying so', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], run: 'h', maxRetries: 1.5 }));

    expect(err.message).toContain("task 't'");
    expect(err.message).toContain("'maxRetries'");
    expect(err.message).toContain('whole number');
  });

  it('rejects a trigger named twice in after', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['a', 'b', 'a'], run: 'h' }));

    expect(err.message).toBe("task 't': 'after' names 'a' twice");
    expect(err.task).toBe('t');
  });

  it('rejects a trigger named twice in unless', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['a'], unless: ['u', 'u'], run: 'h' }));

    expect(err.message).toBe("task 't': 'unless' names 'u' twice");
  });

  it('rejects a task config that is not an object', () => {
    const err = workflowErrorOf(() => defineOne('after x'));

    expect(err.message).toBe("task 't': its config must be an object");
  });
});

describe('defineWorkflow: tasks that can never run', () => {
  it('rejects a task with an empty after and no andEvery', () => {
    const err = workflowErrorOf(() => defineOne({ after: [], run: 'h' }));

    expect(err.message).toContain("task 't' can never run");
    expect(err.message).toContain('no `after` triggers and no `andEvery`');
    expect(err.task).toBe('t');
  });

  it('accepts a task with an empty after when it has an andEvery', () => {
    const wf = defineOne({ after: [], andEvery: 'p', run: 'h' });

    expect(compileWorkflow(wf).tasks.get('t')?.requires).toEqual(['p']);
  });

  it('rejects a task that waits for its own cascade', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['t'], run: 'h' }));

    expect(err.message).toContain("task 't' can never run");
    expect(err.message).toContain('cycle of cascades');
  });

  it('rejects a task whose andEvery is its own cascade', () => {
    const err = workflowErrorOf(() => defineOne({ after: ['x'], andEvery: 't', run: 'h' }));

    expect(err.message).toContain("task 't' can never run");
  });

  it('rejects a two-task cascade cycle with no outside trigger, naming both tasks', () => {
    const err = workflowErrorOf(() =>
      defineWorkflow('w', {
        a: { after: ['b'], run: 'h' },
        b: { after: ['a'], run: 'h' },
      }),
    );

    expect(err.message).toContain("task 'a' can never run");
    expect(err.message).toContain('(also: b)');
    expect(err.task).toBe('a');
  });

  it('rejects a cascade cycle even when one of its tasks also waits for an outside trigger', () => {
    // `after` needs all of its triggers: a needs b's cascade and b needs a's, so the outside
    // trigger x alone never gets either of them to run.
    const err = workflowErrorOf(() =>
      defineWorkflow('w', {
        a: { after: ['x', 'b'], run: 'h' },
        b: { after: ['a'], run: 'h' },
      }),
    );

    expect(err.message).toContain("task 'a' can never run");
    expect(err.message).toContain('(also: b)');
  });

  it('rejects only the tasks stuck behind a cycle, naming the first of them', () => {
    const err = workflowErrorOf(() =>
      defineWorkflow('w', {
        a: { after: ['x'], run: 'h' },
        b: { after: ['a', 'c'], run: 'h' },
        c: { after: ['b'], run: 'h' },
      }),
    );

    expect(err.message).toContain("task 'b' can never run");
    expect(err.message).toContain('(also: c)');
    expect(err.message).not.toContain("'a'");
  });

  it('accepts a cycle through unless, because unless never keeps a task from running', () => {
    // a cascades into b, and b's cascade is in a's unless: a cycle in the graph, yet x starts a
    // and a's cascade starts b, so every task can run.
    const wf = defineWorkflow('w', {
      a: { after: ['x'], unless: ['b'], run: 'h' },
      b: { after: ['a'], run: 'h' },
    });

    const compiled = compileWorkflow(wf);

    expect([...compiled.tasks.keys()]).toEqual(['a', 'b']);
    expect(compiled.listeners.get('b')?.map((t) => t.name)).toEqual(['a']);
  });

  it('accepts a chain of cascades a → b → c, whatever the definition order', () => {
    const wf = defineWorkflow('w', {
      c: { after: ['b'], run: 'h' },
      b: { after: ['a'], run: 'h' },
      a: { after: ['x'], run: 'h' },
    });

    const compiled = compileWorkflow(wf);

    expect(compiled.listeners.get('x')?.map((t) => t.name)).toEqual(['a']);
    expect(compiled.listeners.get('a')?.map((t) => t.name)).toEqual(['b']);
    expect(compiled.listeners.get('b')?.map((t) => t.name)).toEqual(['c']);
  });
});

describe('defineWorkflow: the workflow itself', () => {
  it('rejects an invalid workflow name', () => {
    const err = workflowErrorOf(() =>
      defineWorkflow('my workflow', { t: { after: ['x'], run: 'h' } }),
    );

    expect(err.message).toContain('workflow name "my workflow" must match');
  });

  it('rejects a workflow with no tasks', () => {
    const err = workflowErrorOf(() => defineWorkflow('w', {}));

    expect(err.message).toBe("workflow 'w' has no tasks");
  });

  it('returns the definition it was given, custom directives included', () => {
    const tasks = {
      t: { after: ['x'], run: 'h', priority: 'high', owner: { team: 'data' } },
    };

    const wf = defineWorkflow('w', tasks);

    expect(wf).toEqual({ name: 'w', tasks });
    expect(wf.tasks.t?.priority).toBe('high');
    expect(wf.tasks.t?.owner).toEqual({ team: 'data' });
  });
});

describe('compileWorkflow', () => {
  it('keeps custom directives, and only those, as the task extras', () => {
    const wf = defineOne({
      after: ['x'],
      run: 'h',
      unless: ['u'],
      withParams: { x: { a: 1 } },
      using: 'fargate',
      maxRetries: 5,
      priority: 'high',
      owner: { team: 'data' },
    });

    const task = compileWorkflow(wf).tasks.get('t');

    expect(task?.extras).toEqual({ priority: 'high', owner: { team: 'data' } });
  });

  it('keeps a custom directive named __proto__ (from JSON) as an own extra', () => {
    const wf = JSON.parse(
      '{"name":"w","tasks":{"t":{"after":["x"],"run":"h","__proto__":{"polluted":true}}}}',
    );

    const extras = compileWorkflow(wf).tasks.get('t')?.extras as Record<string, unknown>;

    expect(Object.keys(extras)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(extras)).toBe(Object.prototype);
    expect(extras.polluted).toBeUndefined();
  });

  it('applies the defaults: maxRetries 3, unless [], withParams {}, no extras', () => {
    const task = compileWorkflow(defineOne({ after: ['x'], run: 'h' })).tasks.get('t');

    expect(DEFAULT_MAX_RETRIES).toBe(3);
    expect(task).toEqual({
      name: 't',
      requires: ['x'],
      after: ['x'],
      unless: [],
      withParams: {},
      run: 'h',
      maxRetries: 3,
      extras: {},
    });
  });

  it('keeps maxRetries 0 rather than the default', () => {
    const task = compileWorkflow(defineOne({ after: ['x'], run: 'h', maxRetries: 0 })).tasks.get(
      't',
    );

    expect(task?.maxRetries).toBe(0);
  });

  it('counts andEvery in requires, after the after triggers', () => {
    const task = compileWorkflow(
      defineOne({ after: ['a', 'b'], andEvery: 'p', run: 'h' }),
    ).tasks.get('t');

    expect(task?.requires).toEqual(['a', 'b', 'p']);
    expect(task?.after).toEqual(['a', 'b']);
    expect(task?.andEvery).toBe('p');
  });

  it('does not count an andEvery twice when after names it too', () => {
    const task = compileWorkflow(
      defineOne({ after: ['p', 'a'], andEvery: 'p', run: 'h' }),
    ).tasks.get('t');

    expect(task?.requires).toEqual(['p', 'a']);
  });

  it('lists, per trigger, the tasks whose after, andEvery or unless mention it, in definition order', () => {
    const wf = defineWorkflow('w', {
      t1: { after: ['x'], unless: ['u'], run: 'h' },
      t2: { after: ['y'], andEvery: 'x', run: 'h' },
      t3: { after: ['u'], run: 'h' },
    });

    const { listeners } = compileWorkflow(wf);

    expect(listeners.get('x')?.map((t) => t.name)).toEqual(['t1', 't2']);
    expect(listeners.get('u')?.map((t) => t.name)).toEqual(['t1', 't3']);
    expect(listeners.get('y')?.map((t) => t.name)).toEqual(['t2']);
    expect(listeners.has('h')).toBe(false);
  });

  it('keeps the definition it was compiled from', () => {
    const wf = defineOne({ after: ['x'], run: 'h' });

    expect(compileWorkflow(wf).definition).toBe(wf);
  });
});

describe('checkHandlers', () => {
  it('names the task and the missing handler', () => {
    const compiled = compileWorkflow(
      defineWorkflow('w', {
        t_ok: { after: ['x'], run: 'known' },
        t_missing: { after: ['x'], run: 'unknownHandler' },
      }),
    );

    const err = workflowErrorOf(() => checkHandlers(compiled, ['known']));

    expect(err.message).toContain("task 't_missing'");
    expect(err.message).toContain("'unknownHandler'");
    expect(err.task).toBe('t_missing');
  });

  it('accepts a workflow whose every run names a known handler', () => {
    const compiled = compileWorkflow(
      defineWorkflow('w', {
        a: { after: ['x'], run: 'h1' },
        b: { after: ['a'], run: 'h2' },
      }),
    );

    expect(() => checkHandlers(compiled, new Set(['h1', 'h2']))).not.toThrow();
  });
});

describe('compileWorkflow: timers and the finalize trigger', () => {
  const tasks = { t: { after: ['a'], run: 'h' } };
  const compile = (extra: object) => compileWorkflow({ name: 'w', tasks, ...extra });

  it('compiles a timer into a built-in task that waits for its from trigger, delayed', () => {
    const wf = compile({ timers: { late: { after: '1h', from: 'a' } } });

    const timer = wf.timers.get('late');
    expect(timer?.timer).toEqual({ afterSeconds: 3600, from: 'a' });
    expect(timer?.requires).toEqual(['a']);
    expect(wf.tasks.has('late')).toBe(false);
    expect(wf.allTasks.has('late')).toBe(true);
    expect(wf.listeners.get('a')?.map((t) => t.name)).toEqual(['t', 'late']);
  });

  it.each([
    [{ late: { after: 'soon', from: 'a' } }, /timer "late": 'after': 'soon' is not a duration/],
    [{ late: { after: 0, from: 'a' } }, /'after' must be at least 1 second/],
    [{ late: { after: '1h', from: 'no space' } }, /'from' must be a trigger name/],
    [{ late: { after: '1h', from: 'late' } }, /'from' cannot be the timer itself/],
    [{ t: { after: '1h', from: 'a' } }, /a task has the same name/],
    [{ 'bad#name': { after: '1h', from: 'a' } }, /a timer name must match/],
    [{ late: 'tomorrow' }, /its config must be an object/],
  ])('rejects a bad timer %j, naming it', (timers, message) => {
    expect(workflowErrorOf(() => compile({ timers })).message).toMatch(message);
  });

  it('rejects a finalize trigger that is a task or a timer, or not a trigger name', () => {
    expect(workflowErrorOf(() => compile({ finalizeTrigger: 't' })).message).toMatch(/a task/);
    expect(
      workflowErrorOf(() =>
        compile({ finalizeTrigger: 'late', timers: { late: { after: 5, from: 'a' } } }),
      ).message,
    ).toMatch(/a timer/);
    expect(workflowErrorOf(() => compile({ finalizeTrigger: 'x y' })).message).toMatch(
      /must be a trigger name/,
    );
  });

  it('exempts from finalization the tasks that wait for it, directly or through cascades', () => {
    const wf = compileWorkflow({
      name: 'w',
      tasks: {
        t_work: { after: ['go'], run: 'h' },
        t_report: { after: ['done'], run: 'h' },
        t_archive: { after: ['t_report'], run: 'h' },
        t_nag: { after: ['go'], unless: ['done'], run: 'h' },
      },
      finalizeTrigger: 'done',
    });

    expect([...wf.finalizeExempt].sort()).toEqual(['t_archive', 't_nag', 't_report']);
  });

  it("refuses a handler name that starts with '#', which built-in tasks use", () => {
    expect(workflowErrorOf(() => defineOne({ after: ['x'], run: '#timer' })).message).toMatch(
      /reserved/,
    );
  });
});
