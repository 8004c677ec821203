/**
 * Workflow definitions: `defineWorkflow`, their validation and compilation into the form the
 * reducer reads (tasks, timers, listeners per trigger, the finalize trigger), and handler checks.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import { z } from 'zod';
import { WorkflowError } from '../errors.ts';
import type { Duration, Kwargs, TaskConfig, Workflow, WorkflowOptions } from '../types.ts';
import { parseDuration } from './duration.ts';
import { setOwn } from './kwargs.ts';
import { NAME_PATTERN } from './names.ts';

/** The directives the engine understands; any other key of a task config is an extra. */
const KNOWN_DIRECTIVES = new Set([
  'after',
  'run',
  'andEvery',
  'unless',
  'withParams',
  'using',
  'maxRetries',
]);

/** The default of `TaskConfig.maxRetries`. */
export const DEFAULT_MAX_RETRIES = 3;

/** A task as the engine reads it: directives resolved, defaults applied. */
export interface CompiledTask {
  readonly name: string;
  /** `after` plus `andEvery`, without duplicates: what must have fired before it runs. */
  readonly requires: readonly string[];
  readonly after: readonly string[];
  readonly andEvery?: string;
  readonly unless: readonly string[];
  readonly withParams: Readonly<Record<string, Kwargs>>;
  readonly run: string;
  readonly using?: string;
  readonly maxRetries: number;
  readonly extras: Readonly<Kwargs>;
}

/** The handler name of the built-in task that fires a timer (user handler names never start with `#`). */
export const TIMER_HANDLER = '#timer';

/** The queue of timers: one for the whole deployment. */
export const TIMER_QUEUE = '#timers';

/**
 * A timer, compiled as a built-in task: it waits for `from` and is scheduled with a delay of
 * `afterSeconds`; when it runs it finishes at once, and its cascade fires the timer's name.
 */
export interface CompiledTimer extends CompiledTask {
  readonly timer: { readonly afterSeconds: number; readonly from: string };
}

/** A validated workflow with, per trigger, the tasks that mention it. */
export interface CompiledWorkflow {
  readonly name: string;
  /** The workflow's tasks. */
  readonly tasks: ReadonlyMap<string, CompiledTask>;
  /** Its timers, as built-in tasks named after the timer. */
  readonly timers: ReadonlyMap<string, CompiledTimer>;
  /** Tasks and timers together: everything that has instances. */
  readonly allTasks: ReadonlyMap<string, CompiledTask>;
  /**
   * Trigger name → tasks (and timers) whose `after`, `andEvery` or `unless` (or `from`) mention
   * it, in definition order.
   */
  readonly listeners: ReadonlyMap<string, readonly CompiledTask[]>;
  /** The trigger fired once every counted task is resolved. */
  readonly finalizeTrigger?: string;
  /** Tasks the finalize trigger does not wait for: those that wait for it, directly or not. */
  readonly finalizeExempt: ReadonlySet<string>;
  /** The definition it was compiled from. */
  readonly definition: Workflow;
}

const nameSchema = z
  .string({ error: 'must be a string' })
  .regex(NAME_PATTERN, { error: 'must match ^[A-Za-z0-9_.:-]{1,128}$ (no spaces, no "#")' });

const plainObject = z.custom<Kwargs>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  { error: 'must be a JSON object' },
);

const taskSchema = z
  .object({
    after: z.array(nameSchema, { error: 'must be an array of trigger names' }),
    run: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must name a task handler' })
      .refine((r) => !r.startsWith('#'), { error: "must not start with '#' (reserved)" }),
    andEvery: nameSchema.optional(),
    unless: z.array(nameSchema, { error: 'must be an array of trigger names' }).optional(),
    withParams: z.record(z.string(), plainObject, { error: 'must be an object' }).optional(),
    using: z
      .string({ error: 'must be a string' })
      .min(1)
      .refine((r) => !r.startsWith('#'), { error: "must not start with '#' (reserved)" })
      .optional(),
    maxRetries: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be a whole number' })
      .min(0, { error: 'must be 0 or more' })
      .max(1000, { error: 'must be at most 1000' })
      .optional(),
  })
  .loose();

function describeIssue(task: string, config: object, issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : 'config';
  const top = issue.path[0];
  if (issue.path.length === 1 && typeof top === 'string' && !Object.hasOwn(config, top)) {
    return `task '${task}': '${path}' is required`;
  }
  return `task '${task}': '${path}' ${issue.message}`;
}

function duplicatesIn(list: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const x of list) (seen.has(x) ? dup : seen).add(x);
  return [...dup];
}

/**
 * Which tasks can never run: a task-name trigger fires only by cascade, so a task that needs a
 * task that can never finish can never run either (cycles of cascades with no outside trigger).
 */
function tasksThatCanNeverRun(tasks: ReadonlyMap<string, CompiledTask>): string[] {
  const runnable = new Set<string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const task of tasks.values()) {
      if (runnable.has(task.name)) continue;
      if (task.requires.length === 0) continue;
      if (task.requires.every((t) => !tasks.has(t) || runnable.has(t))) {
        runnable.add(task.name);
        changed = true;
      }
    }
  }
  return [...tasks.keys()].filter((name) => !runnable.has(name));
}

/**
 * Validates a workflow and compiles it for the engine. Throws `WorkflowError` naming the task.
 *
 * @example
 * const compiled = compileWorkflow(defineWorkflow('survey', { t_a: { after: ['x'], run: 'h' } }));
 */
export function compileWorkflow(workflow: Workflow): CompiledWorkflow {
  if (typeof workflow !== 'object' || workflow === null) {
    throw new WorkflowError('a workflow must be an object { name, tasks }');
  }
  const { name, tasks: definitions } = workflow;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new WorkflowError(
      `workflow name ${JSON.stringify(name)} must match ^[A-Za-z0-9_.:-]{1,128}$`,
    );
  }
  if (typeof definitions !== 'object' || definitions === null || Array.isArray(definitions)) {
    throw new WorkflowError(`workflow '${name}': tasks must be an object of task configs`);
  }
  const entries = Object.entries(definitions);
  if (entries.length === 0) throw new WorkflowError(`workflow '${name}' has no tasks`);

  const tasks = new Map<string, CompiledTask>();
  for (const [taskName, config] of entries) {
    if (!NAME_PATTERN.test(taskName)) {
      throw new WorkflowError(
        `task ${JSON.stringify(taskName)}: a task name must match ^[A-Za-z0-9_.:-]{1,128}$ (no spaces, no "#")`,
        { task: taskName },
      );
    }
    tasks.set(taskName, compileTask(taskName, config));
  }

  const never = tasksThatCanNeverRun(tasks);
  if (never.length > 0) {
    const first = never[0] as string;
    const task = tasks.get(first) as CompiledTask;
    const reason =
      task.requires.length === 0
        ? 'it has no `after` triggers and no `andEvery`'
        : 'it waits for the cascade of a task that can never finish (a cycle of cascades with no outside trigger)';
    throw new WorkflowError(
      `task '${first}' can never run: ${reason}${never.length > 1 ? ` (also: ${never.slice(1).join(', ')})` : ''}`,
      { task: first },
    );
  }

  const timers = compileTimers(name, workflow.timers, tasks);
  const finalizeTrigger = compileFinalize(name, workflow.finalizeTrigger, tasks, timers);
  const allTasks = new Map<string, CompiledTask>([...tasks, ...timers]);
  const listeners = new Map<string, CompiledTask[]>();
  for (const task of allTasks.values()) {
    for (const trigger of new Set([...task.requires, ...task.unless])) {
      const list = listeners.get(trigger) ?? [];
      list.push(task);
      listeners.set(trigger, list);
    }
  }
  return {
    name,
    tasks,
    timers,
    allTasks,
    listeners,
    ...(finalizeTrigger !== undefined ? { finalizeTrigger } : {}),
    finalizeExempt: finalizeTrigger === undefined ? new Set() : exempt(finalizeTrigger, allTasks),
    definition: workflow,
  };
}

/** Validates the workflow's timers and compiles each into a built-in task. */
function compileTimers(
  workflow: string,
  timers: WorkflowOptions['timers'],
  tasks: ReadonlyMap<string, CompiledTask>,
): Map<string, CompiledTimer> {
  const out = new Map<string, CompiledTimer>();
  if (timers === undefined) return out;
  if (typeof timers !== 'object' || timers === null || Array.isArray(timers)) {
    throw new WorkflowError(`workflow '${workflow}': timers must be an object of timer configs`);
  }
  for (const [timerName, config] of Object.entries(timers)) {
    const where = `workflow '${workflow}': timer ${JSON.stringify(timerName)}`;
    if (!NAME_PATTERN.test(timerName)) {
      throw new WorkflowError(`${where}: a timer name must match ^[A-Za-z0-9_.:-]{1,128}$`);
    }
    if (tasks.has(timerName)) {
      throw new WorkflowError(
        `${where}: a task has the same name (a task's name fires when it finishes)`,
      );
    }
    if (typeof config !== 'object' || config === null) {
      throw new WorkflowError(`${where}: its config must be an object { after, from }`);
    }
    const { after, from } = config as { after?: unknown; from?: unknown };
    if (typeof from !== 'string' || !NAME_PATTERN.test(from)) {
      throw new WorkflowError(
        `${where}: 'from' must be a trigger name matching ^[A-Za-z0-9_.:-]{1,128}$`,
      );
    }
    if (from === timerName) throw new WorkflowError(`${where}: 'from' cannot be the timer itself`);
    let seconds: number;
    try {
      seconds = parseDuration(after as Duration, { name: `'after'` });
    } catch (err) {
      throw new WorkflowError(`${where}: ${(err as Error).message}`, { cause: err });
    }
    if (seconds < 1) throw new WorkflowError(`${where}: 'after' must be at least 1 second`);
    out.set(timerName, {
      name: timerName,
      requires: [from],
      after: [from],
      unless: [],
      withParams: {},
      run: TIMER_HANDLER,
      using: TIMER_QUEUE,
      maxRetries: 0,
      extras: {},
      timer: { afterSeconds: Math.ceil(seconds), from },
    });
  }
  return out;
}

function compileFinalize(
  workflow: string,
  trigger: unknown,
  tasks: ReadonlyMap<string, CompiledTask>,
  timers: ReadonlyMap<string, CompiledTimer>,
): string | undefined {
  if (trigger === undefined) return undefined;
  const where = `workflow '${workflow}': finalizeTrigger ${JSON.stringify(trigger)}`;
  if (typeof trigger !== 'string' || !NAME_PATTERN.test(trigger)) {
    throw new WorkflowError(`${where} must be a trigger name matching ^[A-Za-z0-9_.:-]{1,128}$`);
  }
  if (tasks.has(trigger) || timers.has(trigger)) {
    throw new WorkflowError(`${where} is the name of a ${tasks.has(trigger) ? 'task' : 'timer'}`);
  }
  return trigger;
}

/**
 * The tasks the finalize trigger does not wait for: those that mention it, and those that wait,
 * through cascades or timers, for one that does (they cannot be resolved before it fires).
 */
function exempt(finalize: string, all: ReadonlyMap<string, CompiledTask>): Set<string> {
  const out = new Set<string>();
  const waitsFor = (t: string) => t === finalize || out.has(t);
  let changed = true;
  while (changed) {
    changed = false;
    for (const task of all.values()) {
      if (out.has(task.name)) continue;
      if ([...task.requires, ...task.unless].some(waitsFor)) {
        out.add(task.name);
        changed = true;
      }
    }
  }
  return out;
}

function compileTask(taskName: string, config: unknown): CompiledTask {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new WorkflowError(`task '${taskName}': its config must be an object`, { task: taskName });
  }
  const parsed = taskSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    throw new WorkflowError(describeIssue(taskName, config, issue), {
      task: taskName,
      cause: parsed.error,
    });
  }
  const c = parsed.data;
  for (const [directive, list] of [
    ['after', c.after],
    ['unless', c.unless ?? []],
  ] as const) {
    const dup = duplicatesIn(list);
    if (dup.length > 0) {
      throw new WorkflowError(`task '${taskName}': '${directive}' names '${dup[0]}' twice`, {
        task: taskName,
      });
    }
  }
  const extras: Kwargs = {};
  for (const [key, value] of Object.entries(config)) {
    if (!KNOWN_DIRECTIVES.has(key)) setOwn(extras, key, value);
  }
  const requires =
    c.andEvery !== undefined && !c.after.includes(c.andEvery)
      ? [...c.after, c.andEvery]
      : [...c.after];
  return {
    name: taskName,
    requires,
    after: [...c.after],
    ...(c.andEvery !== undefined ? { andEvery: c.andEvery } : {}),
    unless: [...(c.unless ?? [])],
    // The validated input itself: parsing would drop a `__proto__` key that came from JSON.
    withParams: (config as TaskConfig).withParams ?? {},
    run: c.run,
    ...(c.using !== undefined ? { using: c.using } : {}),
    maxRetries: c.maxRetries ?? DEFAULT_MAX_RETRIES,
    extras,
  };
}

/**
 * Defines a workflow: a name and its tasks. Validates every task (names, directive shapes,
 * duplicates, tasks that can never run) and throws `WorkflowError` with a message naming the
 * task. Timers and a finalize trigger are workflow fields beside `tasks`
 * (`{ ...defineWorkflow(name, tasks), timers, finalizeTrigger }`), checked with the rest
 * wherever the workflow is used (the test runtime, the registry, the CDK construct). Whether each `run` names a known handler is checked where the handlers are known (the
 * test runtime, the CDK construct).
 *
 * @example
 * const survey = defineWorkflow('survey', {
 *   t_importSubject: { after: ['step1', 'step4'], run: 'importSubject' },
 *   t_importResponses: { after: ['t_importSubject'], andEvery: 'pageReceived', run: 'importResponses' },
 *   t_score: { after: ['t_importSubject'], run: 'score', withParams: { model: { name: 'v2' } } },
 * });
 */
export function defineWorkflow(name: string, tasks: Record<string, TaskConfig>): Workflow {
  const workflow: Workflow = { name, tasks };
  compileWorkflow(workflow);
  return workflow;
}

/**
 * A session's configuration: `tasks` merged by name into `base` (a task of the same name is
 * replaced whole, not field by field; the others are kept), validated as any workflow is.
 * Throws `WorkflowError` naming the task.
 *
 * @example
 * configureTasks(survey, { t_extra: { after: ['step1'], run: 'score' } }).tasks.t_extra; // added
 */
export function configureTasks(base: Workflow, tasks: Record<string, TaskConfig>): Workflow {
  const merged: Record<string, TaskConfig> = { ...base.tasks };
  for (const [name, task] of Object.entries(tasks)) setOwn(merged, name, task);
  const workflow: Workflow = { ...base, tasks: merged };
  compileWorkflow(workflow);
  return workflow;
}

/**
 * Checks that every task's `run` names one of `handlers`; throws `WorkflowError` naming the task
 * and the missing handler.
 */
export function checkHandlers(workflow: CompiledWorkflow, handlers: Iterable<string>): void {
  const known = new Set(handlers);
  for (const task of workflow.tasks.values()) {
    if (!known.has(task.run)) {
      throw new WorkflowError(
        `task '${task.name}' runs '${task.run}', but no task handler of that name is registered (known: ${[...known].sort().join(', ') || 'none'})`,
        { task: task.name },
      );
    }
  }
}
