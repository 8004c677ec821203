/**
 * The text of `triggers inspect` and `triggers watch`: a session's instances (statuses, kwargs,
 * results, errors, metadata, unresolved warnings, what unstarted ones wait for), its timers and
 * its timeline (the manager API's requests included).
 * May import: anything under lib/ (cli).
 *
 * @module
 */
import type { InstanceStatus, SessionEvent, SessionView } from '../types.ts';

const COLOURS: Record<InstanceStatus, number> = {
  unstarted: 90,
  scheduled: 36,
  running: 34,
  finished: 32,
  failed: 31,
  abandoned: 35,
  replayed: 33,
  skipped: 33,
};

/** A status, padded, in ANSI colour when `colour` is set. */
export function statusText(status: InstanceStatus, colour: boolean): string {
  const padded = status.padEnd(9);
  return colour ? `\u001b[${COLOURS[status]}m${padded}\u001b[0m` : padded;
}

function compact(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * The session as lines of text; with `events`, its timeline after the instances.
 *
 * @example
 * renderSession(view, { colour: false }, events);
 */
export function renderSession(
  view: SessionView,
  opts: { colour: boolean },
  events?: readonly SessionEvent[],
): string {
  const lines = [`session ${view.sessionId} (workflow ${view.workflow})`];
  const fired = Object.entries(view.fired)
    .filter(([, f]) => f.count > 0)
    .map(([t, f]) => `${t} x${f.count}`);
  lines.push(`fired: ${fired.length > 0 ? fired.join(', ') : '(nothing)'}`);
  lines.push('instances:');
  const width = Math.max(0, ...view.instances.map((i) => i.name.length));
  if (view.instances.length === 0) lines.push('  (none)');
  for (const inst of view.instances) {
    lines.push(`  ${inst.name.padEnd(width)}  ${statusText(inst.status, opts.colour)}`.trimEnd());
    const detail = ' '.repeat(width + 4);
    if (Object.keys(inst.kwargs).length > 0) lines.push(`${detail}kwargs: ${compact(inst.kwargs)}`);
    if (inst.result !== undefined) lines.push(`${detail}result: ${compact(inst.result)}`);
    if (inst.error !== undefined) {
      lines.push(`${detail}error: ${inst.error.type}: ${inst.error.message}`);
    }
    if (inst.metadata !== undefined) lines.push(`${detail}metadata: ${compact(inst.metadata)}`);
    if (inst.parent !== undefined) lines.push(`${detail}parent: ${inst.parent}`);
    if (inst.logLevel === 'warn' || inst.logLevel === 'error') {
      lines.push(`${detail}logs: ${inst.logLevel}${inst.logsResolved ? ' (resolved)' : ''}`);
    }
    if (inst.waitingFor !== undefined && inst.waitingFor.length > 0) {
      lines.push(`${detail}waiting for: ${inst.waitingFor.join(', ')}`);
    }
  }
  const tasks = view.unresolvedTasks;
  lines.push(`unresolved tasks: ${tasks.length > 0 ? tasks.join(', ') : '(none)'}`);
  // Absent from a server older than the manager API.
  const logs = view.unresolvedLogs ?? [];
  if (logs.length > 0) lines.push(`unresolved logs: ${logs.join(', ')}`);
  if (view.timers !== undefined && view.timers.length > 0) {
    lines.push('timers:');
    for (const t of view.timers) {
      lines.push(`  ${t.name} ${t.status}, due ${t.dueAt} (armed ${t.armedAt})`);
    }
  }
  if (events !== undefined) {
    lines.push('timeline:');
    if (events.length === 0) lines.push('  (no events)');
    for (const e of events) lines.push(`  ${eventLine(e)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The time of day of an ISO timestamp, to the millisecond (UTC), e.g. `10:00:01.250`. */
export function timeOf(iso: string): string {
  return iso.length >= 23 ? iso.slice(11, 23) : iso;
}

/**
 * One event as a line: position, time, kind, what it names, who sent it, whether it was applied.
 *
 * @example
 * eventLine(event); // '  3  10:00:01.250  fire    t_a (cascade) {"score":1}'
 */
export function eventLine(e: SessionEvent): string {
  return `${String(e.seq).padStart(3)}  ${timeOf(e.firedAt)}  ${eventSummary(e)}`;
}

/** What an event names: its trigger, its instance (with what was asked of it), or its tasks. */
function eventSubject(e: SessionEvent): string {
  switch (e.kind) {
    case 'fire':
      return `${e.trigger}`;
    case 'skip':
      return e.cascade ? `${e.instance}, cascading` : `${e.instance}`;
    case 'status':
      return `${e.instance} -> ${e.status}${e.cascade ? ', cascading' : ''}`;
    case 'configure':
      return `tasks ${(e.tasks ?? []).join(', ')}`;
    default:
      return `${e.instance}`;
  }
}

/**
 * An event without its position and time: kind, what it names, who sent it, its kwargs.
 *
 * @example
 * eventSummary(event); // 'fire    t_a (cascade) {"score":1}'
 */
export function eventSummary(e: SessionEvent): string {
  // The kind column says what happened; a clone is a retry's (source 'retry') of `instance`.
  const what = eventSubject(e);
  const data =
    e.kind === 'fire'
      ? e.kwargs
      : e.kind === 'metadata' || e.kind === 'status'
        ? e.metadata
        : undefined;
  const kwargs = data !== undefined && Object.keys(data).length > 0 ? ` ${compact(data)}` : '';
  const pending = e.applied ? '' : ' [not applied yet]';
  return `${e.kind.padEnd(6)}  ${what} (${e.source})${kwargs}${pending}`;
}
