/**
 * Stale sessions (unstarted instances waiting longer than an age): what a store's stale listing
 * finds, turned into the `GET /stale` answer and the `StaleSessions` metric.
 * May import: engine, store, core.
 *
 * @module
 */
import { type Duration, parseDuration } from '../engine/duration.ts';
import { getOwn } from '../engine/kwargs.ts';
import { instanceName } from '../engine/names.ts';
import type { SessionState } from '../engine/state.ts';
import type { CompiledWorkflow } from '../engine/workflow.ts';
import { NotAvailableError, ValidationError } from '../errors.ts';
import type { SessionStore } from '../store/port.ts';
import { STALE_NOT_TRACKED } from '../store/stale-heads.ts';
import type { StaleInstance, StaleSession, StaleSessions } from '../types.ts';
import type { Clock } from './clock.ts';
import type { WorkflowRegistry } from './registry.ts';

/** The defaults and bounds of a stale-sessions query. */
export const STALE_QUERY = {
  olderThan: '24h',
  limit: 100,
  maxLimit: 1000,
} as const satisfies { olderThan: Duration; limit: number; maxLimit: number };

/** The metric the scheduled stale-sessions function publishes. */
export const STALE_METRIC = {
  namespace: 'ServerlessTriggers',
  /** How many sessions have an unstarted instance older than the configured age. */
  staleSessions: 'StaleSessions',
  /** How long the oldest of those instances has waited (0 when none is stale). */
  oldestAge: 'OldestStaleAgeSeconds',
  /** The dimension that tells deployments apart: the session table's name. */
  dimension: 'TableName',
} as const;

/**
 * The unstarted instances of a state created before `cutoff`, oldest first, with the triggers
 * each still waits for (from the workflow; none when the workflow is not served any more).
 *
 * @example
 * staleInstances(head.state, registry.workflow('survey'), '2026-01-01T00:00:00.000Z');
 */
export function staleInstances(
  state: SessionState,
  workflow: CompiledWorkflow | undefined,
  cutoff: string,
): StaleInstance[] {
  const out: StaleInstance[] = [];
  for (const [task, list] of Object.entries(state.unstarted)) {
    for (const inst of list) {
      if (inst.createdAt >= cutoff) continue;
      out.push({
        instance: instanceName(task, inst.n),
        task,
        waitingFor: (workflow?.tasks.get(task)?.requires ?? []).filter(
          (trigger) => getOwn(inst.kwargs, trigger) === undefined,
        ),
        createdAt: inst.createdAt,
      });
    }
  }
  return out.sort(
    (a, b) => compareText(a.createdAt, b.createdAt) || compareText(a.instance, b.instance),
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What `GET /stale` and `TriggersClient.getStale` take. */
export interface StaleInput {
  /** How long an unstarted instance must have waited. @default '24h' */
  olderThan?: Duration | string;
  /** The most sessions to return, 1 to 1000. @default 100 */
  limit?: number | string;
}

/** A stale-sessions query, checked. */
export interface StaleRequest {
  olderThanSeconds: number;
  cutoff: string;
  limit: number;
}

/**
 * Checks a stale-sessions query and computes its cutoff: now minus `olderThan`. Throws
 * `ValidationError` for an age that is not a duration (or is 0) and a limit that is not a
 * whole number from 1 to 1000.
 *
 * @example
 * parseStaleInput({ olderThan: '24h' }, new Date('2026-01-02T00:00:00Z'));
 * // { olderThanSeconds: 86400, cutoff: '2026-01-01T00:00:00.000Z', limit: 100 }
 */
export function parseStaleInput(input: StaleInput, now: Date): StaleRequest {
  const olderThanSeconds = parseDuration(input.olderThan ?? STALE_QUERY.olderThan, {
    name: 'olderThan',
  });
  if (olderThanSeconds === 0) {
    throw new ValidationError('olderThan: must be more than 0 seconds');
  }
  const limit =
    typeof input.limit === 'string'
      ? /^\d+$/.test(input.limit)
        ? Number(input.limit)
        : Number.NaN
      : (input.limit ?? STALE_QUERY.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > STALE_QUERY.maxLimit) {
    throw new ValidationError(
      `limit: '${String(input.limit)}' is not a whole number from 1 to ${STALE_QUERY.maxLimit}`,
    );
  }
  return {
    olderThanSeconds,
    cutoff: new Date(now.getTime() - olderThanSeconds * 1000).toISOString(),
    limit,
  };
}

function unavailable(): NotAvailableError {
  return new NotAvailableError(STALE_NOT_TRACKED);
}

/**
 * Finds the sessions whose unstarted instances have waited longer than `olderThan`, oldest
 * first, each with the instances that have and what they still wait for (known only with a
 * `registry` serving the session's workflow). Throws
 * `ValidationError` for a bad query and `NotAvailableError` when the store cannot answer (a
 * DynamoDB store without its stale index).
 *
 * @example
 * const { sessions } = await readStale({ store, registry, clock }, { olderThan: '24h' });
 */
export async function readStale(
  deps: { store: SessionStore; registry?: WorkflowRegistry; clock: Clock },
  input: StaleInput,
): Promise<StaleSessions> {
  const request = parseStaleInput(input, deps.clock.now());
  if (deps.store.listStale === undefined) throw unavailable();
  const found = await deps.store.listStale({ olderThan: request.cutoff, limit: request.limit });
  const sessions: StaleSession[] = found.heads.map((head) => {
    const workflow = deps.registry?.has(head.state.workflow)
      ? deps.registry.workflow(head.state.workflow)
      : undefined;
    return {
      sessionId: head.sessionId,
      workflow: head.state.workflow,
      oldestUnstartedAt: head.oldestUnstartedAt,
      waiting: staleInstances(head.state, workflow, request.cutoff),
    };
  });
  return {
    olderThanSeconds: request.olderThanSeconds,
    cutoff: request.cutoff,
    sessions,
    truncated: found.truncated,
  };
}

/** What one measurement of stale sessions found. */
export interface StaleSummary {
  olderThanSeconds: number;
  cutoff: string;
  /** Sessions with an unstarted instance created before `cutoff`. */
  count: number;
  /** How long the oldest of those instances has waited, in seconds; 0 when none is stale. */
  oldestAgeSeconds: number;
  oldestUnstartedAt?: string;
}

/**
 * Counts the stale sessions (on DynamoDB: queries of the stale index only, no read of a head).
 *
 * @example
 * const { count } = await measureStale({ store, clock }, 86_400);
 */
export async function measureStale(
  deps: { store: SessionStore; clock: Clock },
  olderThanSeconds: number,
): Promise<StaleSummary> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - olderThanSeconds * 1000).toISOString();
  if (deps.store.countStale === undefined) throw unavailable();
  const { count, oldestUnstartedAt } = await deps.store.countStale(cutoff);
  const oldestAgeSeconds =
    oldestUnstartedAt === undefined
      ? 0
      : Math.max(0, Math.floor((now.getTime() - Date.parse(oldestUnstartedAt)) / 1000));
  return {
    olderThanSeconds,
    cutoff,
    count,
    oldestAgeSeconds,
    ...(oldestUnstartedAt !== undefined ? { oldestUnstartedAt } : {}),
  };
}

/**
 * The measurement as one CloudWatch Embedded Metric Format line: CloudWatch Logs turns it into
 * the `StaleSessions` and `OldestStaleAgeSeconds` metrics of namespace `ServerlessTriggers`,
 * dimension `TableName`, with no `PutMetricData` call and no permission for one.
 *
 * @example
 * process.stdout.write(`${staleMetricLine(summary, 'triggers-sessions', new Date())}\n`);
 */
export function staleMetricLine(summary: StaleSummary, tableName: string, at: Date): string {
  return JSON.stringify({
    _aws: {
      Timestamp: at.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: STALE_METRIC.namespace,
          Dimensions: [[STALE_METRIC.dimension]],
          Metrics: [
            { Name: STALE_METRIC.staleSessions, Unit: 'Count' },
            { Name: STALE_METRIC.oldestAge, Unit: 'Seconds' },
          ],
        },
      ],
    },
    [STALE_METRIC.dimension]: tableName,
    [STALE_METRIC.staleSessions]: summary.count,
    [STALE_METRIC.oldestAge]: summary.oldestAgeSeconds,
    level: 'info',
    message: 'stale sessions measured',
    timestamp: at.toISOString(),
    olderThanSeconds: summary.olderThanSeconds,
    cutoff: summary.cutoff,
  });
}
