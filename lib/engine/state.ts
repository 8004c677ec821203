/**
 * A session's state as the engine keeps it: the compact record of fired triggers, instance
 * counters and unstarted instances, with the functions that make, copy and read it.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
import type { Kwargs } from '../types.ts';
import { getOwn } from './kwargs.ts';
import { parseInstanceName } from './names.ts';
import type { CompiledWorkflow } from './workflow.ts';

/**
 * An instance still waiting for triggers. Kwargs are references: trigger → id of the event
 * whose kwargs the instance applied; the event records hold the kwargs themselves.
 */
export interface UnstartedInstance {
  /** Its number: the instance is `<task>#<n>`. */
  n: number;
  kwargs: Record<string, string>;
  /** The `unless` triggers already applied. */
  abandon: string[];
  createdAt: string;
  /** Metadata an operator merged in while it waited; its record starts with it. */
  metadata?: Kwargs;
}

/**
 * The compact, JSON-serializable state of one session: what decisions need and nothing more.
 * Resolved instances leave it; kwargs stay in event records, referenced by event id. Its size
 * is O(triggers + tasks + unstarted instances), whatever the session's history.
 */
export interface SessionState {
  workflow: string;
  /**
   * The version (a content hash) of the workflow the session was created with: it keeps
   * running under those rules when a changed workflow is deployed. Set by the I/O shell when
   * it creates the session; absent on sessions created before versions were pinned.
   */
  version?: string;
  /**
   * Per trigger fired into the session (those no task listens to up to
   * `MAX_REMEMBERED_TRIGGERS` distinct names): how often it fired and the event holding its
   * latest kwargs.
   */
  fired: Record<string, { count: number; last: string }>;
  /** Per task: the number of the next instance (so also how many instances it has). */
  next: Record<string, number>;
  /** Per task that has any: its unstarted instances, by number. */
  unstarted: Record<string, UnstartedInstance[]>;
  /**
   * Workflows with a finalize trigger only: instances scheduled and not known to be resolved
   * (scheduled, running or failed), sorted.
   */
  open?: string[];
  /** Workflows with a finalize trigger only: set once the finalize trigger has been fired. */
  finalized?: true;
}

/**
 * The state of a session no event has touched yet.
 *
 * @example
 * const state = initialState(compileWorkflow(workflow));
 * // { workflow: workflow.name, fired: {}, next: {}, unstarted: {} }
 */
export function initialState(workflow: CompiledWorkflow): SessionState {
  return { workflow: workflow.name, fired: {}, next: {}, unstarted: {} };
}

/**
 * A copy of `s` whose records (`fired`, `next`, `unstarted`, `open`) a reducer step may change
 * without touching `s`; the lists inside `unstarted` are shared, so a step replaces them rather
 * than changing them.
 *
 * @example
 * const next = copyState(state);
 * setOwn(next.next, 't_a', 1); // `state` keeps its counter
 */
export function copyState(s: SessionState): SessionState {
  return {
    workflow: s.workflow,
    ...(s.version !== undefined ? { version: s.version } : {}),
    fired: { ...s.fired },
    next: { ...s.next },
    unstarted: { ...s.unstarted },
    ...(s.open !== undefined ? { open: [...s.open] } : {}),
    ...(s.finalized ? { finalized: true as const } : {}),
  };
}

/**
 * The unstarted instance of that name, if the state holds it.
 *
 * @example
 * findUnstarted(state, 't_a#0'); // { n: 0, kwargs: { x: 'e1' }, abandon: [], createdAt }
 */
export function findUnstarted(
  state: SessionState,
  instance: string,
): UnstartedInstance | undefined {
  const parsed = parseInstanceName(instance);
  if (!parsed) return undefined;
  return getOwn(state.unstarted, parsed.task)?.find((i) => i.n === parsed.n);
}
