/**
 * Public types of serverless-triggers: workflow definitions, task instances, the task-handler
 * context and the views the API answers with. Shapes follow the public contract.
 * May import: nothing (base: every layer imports it).
 *
 * @module
 */

/** A JSON object: trigger kwargs, handler results, metadata. */
export type Kwargs = Record<string, unknown>;

/** A duration: whole seconds, or a string such as `'30s'`, `'15m'`, `'24h'`, `'7d'`. */
export type Duration = number | `${number}${'s' | 'm' | 'h' | 'd'}`;

/**
 * One task of a workflow: *when* it runs (`after`, `andEvery`, `unless`) and *what* runs
 * (`run`, the name of a task handler). Any other key is a custom directive, kept verbatim as the
 * task's extras.
 *
 * @example
 * const importSubject: TaskConfig = { after: ['step1', 'step4'], run: 'importSubject' };
 */
export interface TaskConfig {
  /** Every one of these triggers must have fired, in any order, before an instance runs. */
  after: string[];
  /** The task handler to execute. */
  run: string;
  /** Each firing of this trigger gets its own instance; implicitly part of `after`. */
  andEvery?: string;
  /** Once all of these have fired, instances not yet scheduled are abandoned. */
  unless?: string[];
  /** Static kwargs, merged recursively under the fired kwargs when the handler runs. */
  withParams?: Record<string, Kwargs>;
  /** Which runner executes the task. @default - the queue of the handler named by `run` */
  using?: string;
  /** How many times a handler may `Retry` itself. @default 3 */
  maxRetries?: number;
  /** Custom directives, kept as the task's extras. */
  [directive: string]: unknown;
}

/**
 * A timer: its trigger (the timer's name) fires by itself, once, `after` this long from when
 * the `from` trigger first fired, with kwargs `{ armedAt, dueAt, by }` (`by`: the id of the
 * event that armed it).
 */
export interface TimerConfig {
  after: Duration;
  from: string;
}

/** Workflow-level options: timers and the finalize trigger. */
export interface WorkflowOptions {
  /** Triggers that fire by themselves, by name. */
  timers?: Record<string, TimerConfig>;
  /**
   * A trigger fired once, by itself, when every task of the session is resolved (tasks that
   * wait for this trigger, or for tasks that do, are not counted).
   */
  finalizeTrigger?: string;
}

/** A named set of tasks, as returned by `defineWorkflow`. */
export interface Workflow extends WorkflowOptions {
  name: string;
  tasks: Record<string, TaskConfig>;
}

/** The lifecycle of a task instance. */
export type InstanceStatus =
  | 'unstarted'
  | 'scheduled'
  | 'running'
  | 'finished'
  | 'failed'
  | 'abandoned'
  | 'replayed'
  | 'skipped';

/** The statuses that count as resolved. */
export const RESOLVED_STATUSES: readonly InstanceStatus[] = [
  'finished',
  'abandoned',
  'replayed',
  'skipped',
];

/** Log levels a handler can write at, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The error recorded on a failed instance. */
export interface InstanceError {
  type: string;
  message: string;
  stack?: string;
  context?: Kwargs;
}

/** One execution record of a task, named `<task>#<n>`. */
export interface TaskInstance {
  /** Instance name, e.g. `'t_importSubject#0'`. */
  name: string;
  task: string;
  status: InstanceStatus;
  /** Trigger kwargs this instance applied, keyed by trigger. */
  kwargs: Record<string, Kwargs>;
  /** The handler's result when finished (also the cascade kwargs). */
  result?: Kwargs;
  error?: InstanceError;
  /** Skip metadata and custom data. */
  metadata?: Kwargs;
  /** The instance this one was cloned from (replay or retry). */
  parent?: string;
  /** 0 for the first run, +1 per retry or replay clone. */
  attempt: number;
  /** The highest level the handler logged at. */
  logLevel?: LogLevel;
  /** Set when an operator marked the instance's logs as dealt with (`resolveLogs`). */
  logsResolved?: boolean;
  /**
   * Unstarted instances only (in the session view): the `after` / `andEvery` triggers it is
   * still waiting for, in definition order.
   */
  waitingFor?: string[];
  createdAt: string;
  updatedAt: string;
}

/** A structured logger handed to task handlers; the highest level used is recorded. */
export interface TaskLogger {
  debug(message: string, attributes?: Kwargs): void;
  info(message: string, attributes?: Kwargs): void;
  warn(message: string, attributes?: Kwargs): void;
  error(message: string, attributes?: Kwargs): void;
}

/** What a task handler receives. */
export interface TaskContext {
  sessionId: string;
  /** Instance name, e.g. `'t_score#0'`. */
  instance: string;
  task: string;
  attempt: number;
  /** `withParams` merged recursively under the applied trigger kwargs. */
  kwargs: Record<string, Kwargs>;
  /** The task's custom directives (keys of its config other than the known ones). */
  extras: Kwargs;
  /** Fires a trigger into the same session. */
  fire(trigger: string, kwargs?: Kwargs): Promise<void>;
  logger: TaskLogger;
}

/**
 * A task handler: returns the result object (the cascade kwargs), or nothing for `{}`. Throw
 * `Retry` to run again, `Skip` to mark the instance skipped; any other throw fails it.
 *
 * @example
 * const score: TaskHandler = async ({ kwargs, logger }) => {
 *   logger.info('scoring');
 *   return { score: 42 };
 * };
 */
// biome-ignore lint/suspicious/noConfusingVoidType: the contract lets handlers return nothing
export type TaskHandler = (ctx: TaskContext) => Kwargs | void | Promise<Kwargs | void>;

/** A session as the API shows it. */
export interface SessionView {
  sessionId: string;
  workflow: string;
  /**
   * The workflow version the session is pinned to (`workflowVersion(workflow)` of the
   * definition it was created with): it runs under those rules whatever is deployed later.
   * Absent for sessions created before versions were pinned.
   */
  workflowVersion?: string;
  /** Per trigger fired into the session: how often it fired. */
  fired: Record<string, { count: number }>;
  instances: TaskInstance[];
  /** Tasks with no instance yet, or with an unresolved instance; sorted. */
  unresolvedTasks: string[];
  /** Instances not resolved; sorted. */
  unresolvedInstances: string[];
  /**
   * Instances whose handler logged at `warn` or higher and whose logs are not marked resolved
   * (`resolveLogs`); sorted. What a finalizing step checks before closing a session.
   */
  unresolvedLogs: string[];
  /** The session's timers that have been armed, by due time (absent when none). */
  timers?: TimerView[];
}

/** A timer of a session: armed when its `from` trigger first fired, fired once due. */
export interface TimerView {
  name: string;
  status: 'armed' | 'fired';
  armedAt: string;
  dueAt: string;
}

/** One event of a session's timeline (`GET /sessions/{sessionId}/events`). */
export interface SessionEvent {
  eventId: string;
  /** Position in the timeline, from 1: the order events were accepted in. */
  seq: number;
  /**
   * A fired trigger, a retry's clone request, a replay or skip request, a notice that an
   * instance was resolved without a cascade (workflows with a finalize trigger), or a request
   * of the manager API: a metadata merge, logs marked resolved, a status set by hand, or the
   * session's configuration.
   */
  kind:
    | 'fire'
    | 'clone'
    | 'replay'
    | 'skip'
    | 'resolved'
    | 'metadata'
    | 'resolve-logs'
    | 'status'
    | 'configure';
  /**
   * Who put it in: the API, a handler's `fire`, a cascade, a `Retry`, a control request, a
   * timer, the finalize trigger, or the task runner (a `resolved` notice).
   */
  source: 'api' | 'handler' | 'cascade' | 'retry' | 'control' | 'timer' | 'finalize' | 'runner';
  /** `fire`: the trigger. */
  trigger?: string;
  /** `fire`: its kwargs; `replay`: the replacement kwargs, keyed by trigger. */
  kwargs?: Kwargs;
  /** `replay`, `skip` and `resolved`: the instance; `clone`: the instance it clones. */
  instance?: string;
  /** `clone`: the task of the instance it clones. */
  task?: string;
  /** `skip` and `status`: whether it cascades; `skip`: the result it carries. */
  cascade?: boolean;
  result?: Kwargs;
  /** `status`: the status set. */
  status?: InstanceStatus;
  /** `metadata` and `status`: the metadata merged in. */
  metadata?: Kwargs;
  /** `configure`: the names of the tasks configured. */
  tasks?: string[];
  /** When it was accepted. */
  firedAt: string;
  /** Whether the evaluator has applied it. */
  applied: boolean;
}

/** A session's timeline. */
export interface SessionEvents {
  sessionId: string;
  events: SessionEvent[];
  /** How many of the events are applied: the evaluator applies them in accept order. */
  appliedCount: number;
  /** When the evaluator last applied events (absent before the first). */
  appliedAt?: string;
}

/** A task as `GET /workflows` describes it. */
export interface TaskSummary {
  name: string;
  after: string[];
  andEvery?: string;
  unless: string[];
  run: string;
  using?: string;
  withParams?: Record<string, Kwargs>;
  maxRetries: number;
}

/** The workflows a deployment serves (`GET /workflows`). */
export interface WorkflowsView {
  defaultWorkflow: string;
  workflows: Array<{ name: string; tasks: TaskSummary[] }>;
}

/** An unstarted instance that has waited longer than the age asked for. */
export interface StaleInstance {
  /** Instance name, e.g. `'t_score#0'`. */
  instance: string;
  task: string;
  /** The `after` / `andEvery` triggers it is still waiting for, in definition order. */
  waitingFor: string[];
  /** When it was created: it has waited since. */
  createdAt: string;
}

/** A session with unstarted instances older than the age asked for (`GET /stale`). */
export interface StaleSession {
  sessionId: string;
  workflow: string;
  /** When its oldest unstarted instance was created. */
  oldestUnstartedAt: string;
  /** Its unstarted instances created before the cutoff, oldest first. */
  waiting: StaleInstance[];
}

/** The answer of `GET /stale`: stale sessions, oldest first. */
export interface StaleSessions {
  /** The age asked for, in seconds. */
  olderThanSeconds: number;
  /** Now minus that age: instances created before this are stale. */
  cutoff: string;
  sessions: StaleSession[];
  /** True when more sessions are stale than `limit` let through. */
  truncated: boolean;
}
