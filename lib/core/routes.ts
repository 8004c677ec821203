/**
 * The HTTP API's route table, once: the HTTP core routes by it, the construct registers the
 * same routes on API Gateway, and grants name their paths.
 * May import: nothing.
 *
 * @module
 */

/** One route: its method, its path (`{name}` marks a parameter) and the construct's id for it. */
export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly path: string;
  /** The id of the API Gateway route the construct creates. */
  readonly id: string;
  /** Routed only when the construct's `staleSessions` is on. */
  readonly staleSessions?: true;
}

/**
 * The contract's routes (fire, read, replay, skip, and the manager API's configuration and
 * instance administration), plus the read-only timeline, workflows and stale-sessions routes.
 *
 * @example
 * ROUTES.fire; // { method: 'POST', path: '/sessions/{sessionId}/events', id: 'Fire' }
 */
export const ROUTES = {
  fire: { method: 'POST', path: '/sessions/{sessionId}/events', id: 'Fire' },
  getSession: { method: 'GET', path: '/sessions/{sessionId}', id: 'GetSession' },
  getEvents: { method: 'GET', path: '/sessions/{sessionId}/events', id: 'GetEvents' },
  getWorkflows: { method: 'GET', path: '/workflows', id: 'GetWorkflows' },
  getStale: { method: 'GET', path: '/stale', id: 'GetStale', staleSessions: true },
  replay: {
    method: 'POST',
    path: '/sessions/{sessionId}/instances/{instance}/replay',
    id: 'Replay',
  },
  skip: { method: 'POST', path: '/sessions/{sessionId}/instances/{instance}/skip', id: 'Skip' },
  configure: { method: 'POST', path: '/sessions/{sessionId}/configuration', id: 'Configure' },
  updateMetadata: {
    method: 'PATCH',
    path: '/sessions/{sessionId}/instances/{instance}/metadata',
    id: 'UpdateMetadata',
  },
  resolveLogs: {
    method: 'POST',
    path: '/sessions/{sessionId}/instances/{instance}/resolve-logs',
    id: 'ResolveLogs',
  },
  setStatus: {
    method: 'POST',
    path: '/sessions/{sessionId}/instances/{instance}/status',
    id: 'SetStatus',
  },
} as const satisfies Record<string, RouteSpec>;

/** The name of a route of `ROUTES`. */
export type RouteName = keyof typeof ROUTES;

/**
 * A route's path as segments, `:name` for a parameter.
 *
 * @example
 * routeSegments('/sessions/{sessionId}/events'); // ['sessions', ':sessionId', 'events']
 */
export function routeSegments(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (s.startsWith('{') && s.endsWith('}') ? `:${s.slice(1, -1)}` : s));
}
