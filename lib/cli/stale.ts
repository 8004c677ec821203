/**
 * `triggers stale`: the sessions whose unstarted instances have waited longer than an age, oldest
 * first, with the triggers each instance still waits for.
 * May import: anything under lib/ (cli).
 *
 * @module
 */
import type { TriggersClient } from '../client/client.ts';
import { STALE_QUERY } from '../core/stale.ts';
import { parseDuration } from '../engine/duration.ts';
import { NotAvailableError } from '../errors.ts';
import type { StaleSessions } from '../types.ts';
import { CliError, EXIT, usageError } from './errors.ts';

/** What `stale` reads from the command line. */
export interface StaleCommandInput {
  readonly values: { 'older-than'?: string; limit?: string; json?: boolean };
  readonly stdout: (s: string) => void;
}

const AGE_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/**
 * A number of seconds in its largest unit and the next one, when not zero: `'2d 3h'`, `'1d'`,
 * `'5h 12m'`, `'40s'`.
 *
 * @example
 * formatAge(93_784); // '1d 2h'
 */
export function formatAge(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const first = AGE_UNITS.findIndex(([, size]) => whole >= size);
  if (first < 0) return '0s';
  const [unit, size] = AGE_UNITS[first] as readonly [string, number];
  const next = AGE_UNITS[first + 1];
  const rest = next === undefined ? 0 : Math.floor((whole % size) / next[1]);
  return `${Math.floor(whole / size)}${unit}${next !== undefined && rest > 0 ? ` ${rest}${next[0]}` : ''}`;
}

/**
 * The answer as text: one line per session (workflow, oldest instance, how long it has waited),
 * one indented line per stale instance with what it still waits for.
 *
 * @example
 * renderStale(await client.getStale({ olderThan: '24h' }));
 */
export function renderStale(answer: StaleSessions): string {
  const age = formatAge(answer.olderThanSeconds);
  const now = Date.parse(answer.cutoff) + answer.olderThanSeconds * 1000;
  const waited = (at: string) => formatAge((now - Date.parse(at)) / 1000);
  if (answer.sessions.length === 0) {
    return `no session has an instance unstarted for more than ${age}\n`;
  }
  const lines = [
    `${answer.sessions.length}${answer.truncated ? '+' : ''} session(s) with instances unstarted for more than ${age}:`,
  ];
  for (const s of answer.sessions) {
    lines.push(`  ${s.sessionId} (workflow ${s.workflow}): waiting ${waited(s.oldestUnstartedAt)}`);
    const width = Math.max(...s.waiting.map((w) => w.instance.length));
    for (const w of s.waiting) {
      const on = w.waitingFor.length > 0 ? `waiting for ${w.waitingFor.join(', ')}` : 'waiting';
      lines.push(
        `    ${w.instance.padEnd(width)}  ${on} (since ${w.createdAt}, ${waited(w.createdAt)})`,
      );
    }
  }
  if (answer.truncated) lines.push('more sessions are stale: raise --limit to see them');
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `triggers stale [--older-than 24h] [--limit N] [--json]` against `client`. A bad
 * `--older-than` or `--limit` is a usage error (exit 1); a deployment without stale sessions
 * turned on is a refusal (exit 2).
 *
 * @example
 * await staleCommand({ values: { 'older-than': '2h' }, stdout: console.log }, client);
 */
export async function staleCommand(
  input: StaleCommandInput,
  client: TriggersClient,
): Promise<void> {
  const limitText = input.values.limit;
  let olderThan: number;
  try {
    olderThan = parseDuration(input.values['older-than'] ?? STALE_QUERY.olderThan, {
      name: '--older-than',
    });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  if (olderThan === 0) throw usageError('--older-than: must be more than 0 seconds');
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (
    limit !== undefined &&
    (!/^\d+$/.test(limitText ?? '') || limit < 1 || limit > STALE_QUERY.maxLimit)
  ) {
    throw usageError(
      `--limit: '${limitText}' is not a whole number from 1 to ${STALE_QUERY.maxLimit}`,
    );
  }
  let answer: StaleSessions;
  try {
    answer = await client.getStale({
      olderThan,
      ...(limit !== undefined ? { limit } : {}),
    });
  } catch (err) {
    if (err instanceof NotAvailableError) throw new CliError(err.message, EXIT.refused);
    throw err;
  }
  input.stdout(input.values.json ? `${JSON.stringify(answer)}\n` : renderStale(answer));
}
