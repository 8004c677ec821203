/**
 * Serves the session inspector of the local stack: `/ui` (the page), `/ui/app.js` (the page's
 * script), `/ui/app.css`, and `/ui/lifecycle/{sessionId}` (the lifecycle events the local stack
 * heard for a session, from its `LifecycleLog`). The published package serves the assets from
 * `dist/ui`, where `npm run build` put them; a checkout bundles the script with esbuild from
 * `page/app.ts` on first request, then keeps it. Besides its lifecycle route, the page reads
 * only the public HTTP API of the same origin.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { TriggersError } from '../../errors.ts';
import { packageRoot } from '../../package-root.ts';
import type { LifecycleEntry } from '../lifecycle-log.ts';

/** An answer of the inspector: a complete HTTP response. */
export interface InspectorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The inspector's assets. */
export interface Inspector {
  /**
   * Answers a request for `/ui` or one of its assets; `undefined` when the path is not the
   * inspector's, so the caller routes it on (to the HTTP API).
   */
  handle(method: string, path: string): Promise<InspectorResponse | undefined>;
}

/** Options of `createInspector`. */
export interface InspectorOptions {
  /** Minify the bundle. @default true */
  minify?: boolean;
  /**
   * The lifecycle events to show in the timeline (the local stack's `LifecycleLog`).
   * @default - none: `/ui/lifecycle/{sessionId}` answers 404 and the timeline shows events only
   */
  lifecycle?: { forSession(sessionId: string): LifecycleEntry[] };
}

/** The prefix of the inspector's lifecycle route: `/ui/lifecycle/{sessionId}`, id encoded. */
export const LIFECYCLE_ROUTE = '/ui/lifecycle/';

interface Asset {
  type: string;
  load: () => Promise<string>;
}

/** The page's sources, in a checkout of the repository. */
const PAGE_SOURCES = 'lib/local/inspector/page';

/** The page's files as built into the package: `dist/ui/{index.html,app.js,app.css}`. */
export const INSPECTOR_DIST = 'dist/ui';

/**
 * How the page's script is bundled, by `npm run build` and by a checkout on first request.
 *
 * @example
 * await esbuild.build({ ...inspectorBundleOptions(root, true), outfile: 'dist/ui/app.js' });
 */
export function inspectorBundleOptions(root: string, minify: boolean): BuildOptions {
  return {
    entryPoints: [join(root, PAGE_SOURCES, 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    legalComments: 'none',
    logLevel: 'silent',
  };
}

/** The page's stylesheets, in the order `/ui/app.css` joins them. */
export const PAGE_STYLESHEETS = ['styles.css', 'graph.css'] as const;

/**
 * The page's stylesheets as one: what `/ui/app.css` serves, and what the build writes.
 *
 * @example
 * await writeFile('dist/ui/app.css', await joinedStylesheets(join(root, 'lib/local/inspector/page')));
 */
export async function joinedStylesheets(pageSources: string): Promise<string> {
  const sheets = await Promise.all(
    PAGE_STYLESHEETS.map((name) => readFile(join(pageSources, name), 'utf8')),
  );
  return sheets.join('\n');
}

/** Where the page's HTML and CSS come from, by their names in `dist/ui`. */
function pageFiles(root: string): { html: string; css: () => Promise<string>; js?: string } {
  const sources = join(root, PAGE_SOURCES);
  if (existsSync(join(sources, 'app.ts'))) {
    return { html: join(sources, 'index.html'), css: () => joinedStylesheets(sources) };
  }
  const dist = join(root, INSPECTOR_DIST);
  return {
    html: join(dist, 'index.html'),
    css: () => readFile(join(dist, 'app.css'), 'utf8'),
    js: join(dist, 'app.js'),
  };
}

/** The page may load only its own script and stylesheet; the API is the same origin. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

async function bundle(root: string, minify: boolean): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({ ...inspectorBundleOptions(root, minify), write: false });
  const file = out.outputFiles[0];
  if (!file) {
    throw new TriggersError('esbuild produced no output for the inspector', {
      code: 'INSPECTOR_BUILD_FAILED',
    });
  }
  return file.text;
}

/** Runs `load` once; a failed attempt is forgotten, so the next request tries again. */
function once(load: () => Promise<string>): () => Promise<string> {
  let pending: Promise<string> | undefined;
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}

const JSON_HEADERS = { 'content-type': 'application/json', ...SECURITY_HEADERS };

function jsonError(status: number, code: string, message: string): InspectorResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify({ error: { code, message } }) };
}

/** `GET /ui/lifecycle/{sessionId}`: `{ sessionId, events }`, the session's lifecycle events. */
function lifecycleAnswer(
  method: string,
  path: string,
  lifecycle: InspectorOptions['lifecycle'],
): InspectorResponse {
  if (method !== 'GET' && method !== 'HEAD') {
    return {
      ...jsonError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`),
      headers: { ...JSON_HEADERS, allow: 'GET, HEAD' },
    };
  }
  if (lifecycle === undefined) {
    return jsonError(404, 'NOT_FOUND', 'this server keeps no lifecycle events');
  }
  let sessionId: string;
  try {
    sessionId = decodeURIComponent(path.slice(LIFECYCLE_ROUTE.length));
  } catch {
    return jsonError(400, 'VALIDATION', `'${path}' is not a percent-encoded session id`);
  }
  if (sessionId === '' || sessionId.includes('/')) {
    return jsonError(404, 'NOT_FOUND', `no asset ${path}`);
  }
  const body = JSON.stringify({ sessionId, events: lifecycle.forSession(sessionId) });
  return { status: 200, headers: JSON_HEADERS, body: method === 'HEAD' ? '' : body };
}

/**
 * Creates the inspector's asset server. Each asset is read (or bundled) once, on first request.
 *
 * @example
 * const inspector = createInspector();
 * const answer = await inspector.handle('GET', '/ui');
 * // answer?.status === 200, an HTML page; undefined for '/sessions/s1'
 */
export function createInspector(opts: InspectorOptions = {}): Inspector {
  const minify = opts.minify ?? true;
  const root = packageRoot();
  const files = pageFiles(root);
  const script = files.js;
  const page = once(() => readFile(files.html, 'utf8'));
  const assets = new Map<string, Asset>([
    ['/ui', { type: 'text/html; charset=utf-8', load: page }],
    ['/ui/', { type: 'text/html; charset=utf-8', load: page }],
    ['/ui/index.html', { type: 'text/html; charset=utf-8', load: page }],
    [
      '/ui/app.js',
      {
        type: 'text/javascript; charset=utf-8',
        load: once(() => (script ? readFile(script, 'utf8') : bundle(root, minify))),
      },
    ],
    [
      '/ui/app.css',
      {
        type: 'text/css; charset=utf-8',
        load: once(files.css),
      },
    ],
  ]);

  return {
    async handle(method, path) {
      if (path !== '/ui' && !path.startsWith('/ui/')) return undefined;
      if (path.startsWith(LIFECYCLE_ROUTE)) return lifecycleAnswer(method, path, opts.lifecycle);
      const asset = assets.get(path);
      if (!asset) return jsonError(404, 'NOT_FOUND', `no asset ${path}`);
      if (method !== 'GET' && method !== 'HEAD') {
        return {
          ...jsonError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`),
          headers: { ...JSON_HEADERS, allow: 'GET, HEAD' },
        };
      }
      try {
        const body = await asset.load();
        return {
          status: 200,
          headers: { 'content-type': asset.type, ...SECURITY_HEADERS },
          body: method === 'HEAD' ? '' : body,
        };
      } catch (err) {
        return jsonError(
          500,
          'INSPECTOR_BUILD_FAILED',
          `the inspector could not be built: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    },
  };
}
