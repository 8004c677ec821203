/**
 * Stale heads as every store finds them: the moment a head's oldest unstarted instance was
 * created, the order stores list stale heads in, and why a store cannot list them.
 * May import: engine, base (lib/types.ts, lib/errors.ts).
 *
 * @module
 */
import type { SessionState } from '../engine/state.ts';

/**
 * The `createdAt` of the state's oldest unstarted instance; undefined when it has none.
 *
 * @example
 * oldestUnstartedAt(head.state); // '2026-01-01T00:00:00.000Z'
 */
export function oldestUnstartedAt(state: SessionState): string | undefined {
  let oldest: string | undefined;
  for (const list of Object.values(state.unstarted)) {
    for (const inst of list) {
      if (oldest === undefined || inst.createdAt < oldest) oldest = inst.createdAt;
    }
  }
  return oldest;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order of stale sessions: oldest unstarted instance first, then by session id. Every store
 * lists in this order, so their answers compare equal.
 *
 * @example
 * heads.sort(compareStale);
 */
export function compareStale(
  a: { oldestUnstartedAt: string; sessionId: string },
  b: { oldestUnstartedAt: string; sessionId: string },
): number {
  return (
    compareText(a.oldestUnstartedAt, b.oldestUnstartedAt) || compareText(a.sessionId, b.sessionId)
  );
}

/**
 * Why a store cannot list stale sessions, for every place that refuses: the answer of
 * `GET /stale`, the client's error, the CLI's line.
 *
 * @example
 * throw new NotAvailableError(STALE_NOT_TRACKED);
 */
export const STALE_NOT_TRACKED =
  'this deployment does not track stale sessions: turn on the staleSessions option of the Triggers construct (a DynamoStore needs { staleIndex: true } and a table with the stale index)';
