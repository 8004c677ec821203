/**
 * The session view: a session, its timeline and the workflows served, read from the store into
 * the public shapes of `lib/types.ts`.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { getOwn, setOwn } from '../engine/kwargs.ts';
import { instanceName, parseInstanceName } from '../engine/names.ts';
import type { SessionState } from '../engine/state.ts';
import type { CompiledTimer, CompiledWorkflow } from '../engine/workflow.ts';
import {
  type EventRecord,
  type InstanceRecord,
  resolveKwargs,
  type SessionStore,
  toTaskInstance,
} from '../store/port.ts';
import {
  RESOLVED_STATUSES,
  type SessionEvent,
  type SessionEvents,
  type SessionView,
  type TaskInstance,
  type TaskSummary,
  type TimerView,
  type WorkflowsView,
} from '../types.ts';
import { addSeconds } from './clock.ts';
import type { WorkflowRegistry } from './registry.ts';

/** Orders instance names by task, then by number (`t#2` before `t#10`). */
export function compareInstanceNames(a: string, b: string): number {
  const pa = parseInstanceName(a);
  const pb = parseInstanceName(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.task !== pb.task) return pa.task < pb.task ? -1 : 1;
  return pa.n - pb.n;
}

/** Unresolved tasks and instances of a session, from its workflow, state and instances. */
export function unresolved(
  workflow: CompiledWorkflow,
  state: SessionState | undefined,
  instances: readonly TaskInstance[],
): { unresolvedTasks: string[]; unresolvedInstances: string[] } {
  const unresolvedInstances = instances
    .filter((i) => !RESOLVED_STATUSES.includes(i.status))
    .map((i) => i.name)
    .sort(compareInstanceNames);
  const pendingTasks = new Set(unresolvedInstances.map((n) => parseInstanceName(n)?.task));
  const unresolvedTasks = [...workflow.tasks.keys()]
    .filter((t) => (state ? (getOwn(state.next, t) ?? 0) : 0) === 0 || pendingTasks.has(t))
    .sort();
  return { unresolvedTasks, unresolvedInstances };
}

/**
 * Instances whose handler logged at `warn` or higher and whose logs are not marked resolved,
 * sorted.
 *
 * @example
 * unresolvedLogs(view.instances); // ['t_score#0']
 */
export function unresolvedLogs(instances: readonly TaskInstance[]): string[] {
  return instances
    .filter((i) => (i.logLevel === 'warn' || i.logLevel === 'error') && i.logsResolved !== true)
    .map((i) => i.name)
    .sort(compareInstanceNames);
}

/**
 * The workflow a session runs under: the version it is pinned to, the deployed one when that
 * is it (or when the session predates pinned versions).
 */
async function pinnedWorkflow(
  deps: { store: SessionStore; registry: WorkflowRegistry },
  state: SessionState,
): Promise<CompiledWorkflow> {
  const { registry } = deps;
  // Asked first: it answers for the deployed version without a lookup, and a registry that
  // refuses questions (a client without workflows) refuses here, with its own message.
  if (
    registry.has(state.workflow) &&
    (state.version === undefined || registry.version(state.workflow) === state.version)
  ) {
    return registry.workflow(state.workflow);
  }
  return (await registry.engineFor(state.workflow, state.version, deps.store)).workflow;
}

/**
 * Reads a session: its instances (unstarted ones from the head, the rest from their records),
 * fired counts, and what is unresolved. Undefined when no event of it has been applied yet.
 *
 * @example
 * const view = await readSession({ store, registry }, 's1');
 */
export async function readSession(
  deps: { store: SessionStore; registry: WorkflowRegistry },
  sessionId: string,
): Promise<SessionView | undefined> {
  const head = await deps.store.getHead(sessionId);
  if (!head) return undefined;
  const workflow = await pinnedWorkflow(deps, head.state);
  // Unstarted instances live in the head with kwargs references, like stored records: one read
  // of the referenced events resolves both.
  const unstarted: Array<TaskInstance & Pick<InstanceRecord, 'sessionId' | 'kwargsRefs'>> =
    Object.entries(head.state.unstarted).flatMap(([task, list]) =>
      list.map((inst) => ({
        sessionId,
        name: instanceName(task, inst.n),
        task,
        status: 'unstarted' as const,
        kwargs: {},
        kwargsRefs: inst.kwargs,
        attempt: 0,
        createdAt: inst.createdAt,
        updatedAt: inst.createdAt,
        waitingFor: (workflow.tasks.get(task)?.requires ?? []).filter(
          (trigger) => getOwn(inst.kwargs, trigger) === undefined,
        ),
        ...(inst.metadata !== undefined ? { metadata: inst.metadata } : {}),
      })),
    );
  const records = await resolveKwargs(deps.store, [
    ...(await deps.store.listInstances(sessionId)),
    ...unstarted,
  ]);
  // A timer's instance is how the runtime waits it out, not a task of the session: it is shown
  // as a timer.
  const timers = records
    .filter((r) => workflow.timers.has(r.task))
    .map((r) => timerView(r, workflow.timers.get(r.task) as CompiledTimer))
    .sort((a, b) => (a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : 0));
  const instances = records
    .filter((r) => !workflow.timers.has(r.task))
    .map((r) =>
      r.status === 'unstarted' && 'waitingFor' in r && Array.isArray(r.waitingFor)
        ? { ...toTaskInstance(r), waitingFor: r.waitingFor }
        : toTaskInstance(r),
    );
  instances.sort((a, b) => compareInstanceNames(a.name, b.name));
  const fired: Record<string, { count: number }> = {};
  for (const [trigger, f] of Object.entries(head.state.fired))
    setOwn(fired, trigger, { count: f.count });
  return {
    sessionId,
    workflow: workflow.name,
    ...(head.state.version !== undefined ? { workflowVersion: head.state.version } : {}),
    fired,
    instances,
    ...unresolved(workflow, head.state, instances),
    unresolvedLogs: unresolvedLogs(instances),
    ...(timers.length > 0 ? { timers } : {}),
  };
}

/** A timer as the session view shows it: armed (waiting out its delay) or fired. */
function timerView(
  r: Pick<InstanceRecord, 'task' | 'status' | 'createdAt'>,
  timer: CompiledTimer,
): TimerView {
  const dueAt = addSeconds(r.createdAt, timer.timer.afterSeconds);
  return {
    name: r.task,
    status: r.status === 'finished' ? 'fired' : 'armed',
    armedAt: r.createdAt,
    dueAt,
  };
}

/** The public form of a stored event. */
function toSessionEvent(e: EventRecord, seq: number, applied: boolean): SessionEvent {
  const out: SessionEvent = {
    eventId: e.eventId,
    seq,
    kind: e.kind,
    source: e.source,
    firedAt: e.firedAt,
    applied,
  };
  if (e.kind === 'fire') {
    out.trigger = e.trigger;
    out.kwargs = e.kwargs;
  } else if (e.kind === 'clone') {
    out.instance = e.parent;
    out.task = e.task;
  } else if (e.kind === 'configure') {
    out.tasks = Object.keys(e.tasks);
  } else {
    out.instance = e.instance;
    if (e.kind === 'replay' && e.kwargs !== undefined) out.kwargs = e.kwargs;
    if (e.kind === 'skip') {
      out.cascade = e.cascade;
      if (e.result !== undefined) out.result = e.result;
    }
    if (e.kind === 'status') {
      out.status = e.status;
      out.cascade = e.cascade;
      if (e.cascadeKwargs !== undefined) out.kwargs = e.cascadeKwargs;
    }
    if ((e.kind === 'metadata' || e.kind === 'status') && e.metadata !== undefined) {
      out.metadata = e.metadata;
    }
  }
  return out;
}

/**
 * Reads a session's timeline: every event it accepted (fired triggers, cascades, retry clones,
 * replay and skip requests), in accept order. Undefined when the session has no event.
 *
 * The head counts the events applied, which are the first ones in stream order. The in-memory
 * store lists events in exactly that order; DynamoDB keeps no sequence number on the items, so
 * its list is in acceptance-time order, which differs from stream order only for events
 * accepted within the same few milliseconds by different writers.
 *
 * @example
 * const timeline = await readEvents({ store }, 's1');
 */
export async function readEvents(
  deps: { store: SessionStore },
  sessionId: string,
): Promise<SessionEvents | undefined> {
  const [events, head] = await Promise.all([
    deps.store.listEvents(sessionId),
    deps.store.getHead(sessionId),
  ]);
  if (events.length === 0) return undefined;
  const appliedCount = Math.min(head?.applied?.count ?? 0, events.length);
  return {
    sessionId,
    events: events.map((e, i) => toSessionEvent(e, i + 1, i < appliedCount)),
    appliedCount,
    ...(head?.applied ? { appliedAt: head.applied.at } : {}),
  };
}

/**
 * Describes the workflows a deployment serves: each task's directives, as declared.
 *
 * @example
 * describeWorkflows(registry).workflows[0].tasks; // [{ name: 't_a', after: ['a'], ... }]
 */
export function describeWorkflows(registry: WorkflowRegistry): WorkflowsView {
  return {
    defaultWorkflow: registry.defaultWorkflow,
    workflows: registry.all().map((wf) => ({
      name: wf.name,
      tasks: [...wf.tasks.values()].map((t) => {
        const out: TaskSummary = {
          name: t.name,
          after: [...t.after],
          unless: [...t.unless],
          run: t.run,
          maxRetries: t.maxRetries,
        };
        if (t.andEvery !== undefined) out.andEvery = t.andEvery;
        if (t.using !== undefined) out.using = t.using;
        if (Object.keys(t.withParams).length > 0) out.withParams = { ...t.withParams };
        return out;
      }),
    })),
  };
}
