/**
 * The text rendering of `triggers inspect`: a session's instances with their statuses, kwargs,
 * results and errors.
 *
 * @module
 */
import type { InstanceStatus, SessionView } from '../types.ts';

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
 * The session as lines of text.
 *
 * @example
 * renderSession(view, { colour: false });
 */
export function renderSession(view: SessionView, opts: { colour: boolean }): string {
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
  }
  const tasks = view.unresolvedTasks;
  lines.push(`unresolved tasks: ${tasks.length > 0 ? tasks.join(', ') : '(none)'}`);
  return `${lines.join('\n')}\n`;
}
