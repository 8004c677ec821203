/**
 * Fault points: the boundaries between writes where a component can crash, and the test-only
 * hooks that crash there to prove that a retry finishes the work.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { TriggersError } from '../errors.ts';

/**
 * The boundaries between writes where a component can crash. Tests arm a hook that throws at
 * one of them to prove the retry finishes the work with nothing lost and nothing doubled.
 */
export type FaultPoint =
  /** The event is stored; the caller has not been answered. */
  | 'ingest.afterEventWrite'
  /** The evaluation is committed; its messages are not sent, the batch is not acknowledged. */
  | 'evaluator.afterCommit'
  /**
   * The instance is scheduled; its message is not sent (by the evaluator right after its
   * commit, or by the stream dispatcher where that sends it).
   */
  | 'dispatcher.beforeSend'
  /** The evaluation's messages are sent; the stream batch is not acknowledged. */
  | 'evaluator.afterSend'
  /** The instance is claimed; its handler has not run. */
  | 'task.afterClaim'
  /** The handler returned; its outcome is not committed. */
  | 'task.afterHandler'
  /** The outcome is committed; the queue message is not deleted. */
  | 'task.afterCommit';

/** Every fault point, in the order a fire flows through them. */
export const FAULT_POINTS: readonly FaultPoint[] = [
  'ingest.afterEventWrite',
  'evaluator.afterCommit',
  'dispatcher.beforeSend',
  'evaluator.afterSend',
  'task.afterClaim',
  'task.afterHandler',
  'task.afterCommit',
];

/** Where a fault hook is called from. */
export interface FaultSite {
  sessionId: string;
  /** The instance concerned, at task and dispatcher points. */
  instance?: string;
  /** The event concerned, at ingest points. */
  eventId?: string;
}

/** A test-only hook: throw (for example an `InjectedFault`) to crash at that point. */
export type FaultHook = (point: FaultPoint, site: FaultSite) => void;

/**
 * The crash a fault hook throws.
 *
 * @example
 * const faults: FaultHook = (point) => { if (point === 'task.afterClaim') throw new InjectedFault(point); };
 */
export class InjectedFault extends TriggersError {
  readonly point: FaultPoint;
  constructor(point: FaultPoint) {
    super(`injected fault at ${point}`, { code: 'INJECTED_FAULT' });
    this.point = point;
  }
}

/**
 * A hook that crashes once at each armed point (the first time it is reached, optionally only
 * for one instance or event), and records where it did.
 *
 * @example
 * const faults = crashOnce(['task.afterHandler']);
 * await createTestRuntime({ workflow, handlers, faults: faults.hook });
 */
export function crashOnce(
  points: readonly FaultPoint[],
  match?: (site: FaultSite) => boolean,
): { hook: FaultHook; fired: Array<{ point: FaultPoint; site: FaultSite }> } {
  const armed = new Set(points);
  const fired: Array<{ point: FaultPoint; site: FaultSite }> = [];
  return {
    fired,
    hook: (point, site) => {
      if (!armed.has(point) || (match && !match(site))) return;
      armed.delete(point);
      fired.push({ point, site });
      throw new InjectedFault(point);
    },
  };
}
