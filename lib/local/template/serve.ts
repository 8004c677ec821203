/**
 * The template mode's loopback server: the template's HTTP API routes invoking their functions,
 * the inspector's pages, and one local route that runs a scheduled rule.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { LogSink } from '../../core/log.ts';
import { FunctionError, NotFoundError } from '../../errors.ts';
import { createInspector } from '../inspector/server.ts';
import {
  authorizationNotice,
  createHttpApiHandler,
  type FunctionOutcome,
  httpApiRoutes,
  serveHttpApi,
} from './http-api.ts';
import type { CfnResource, LocalEnv } from './model.ts';
import type { TemplateRules } from './rules.ts';

/** The running server. */
export interface TemplateServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** What it says once at start: the routes that need authorization on AWS, the schedules. */
  readonly notice: readonly string[];
  close(): Promise<void>;
}

/** The local route that runs a scheduled rule now: `POST /_local/rules/{logicalId}/run`. */
const RUN_RULE = /^\/_local\/rules\/([A-Za-z0-9]+)\/run$/;

/**
 * Serves the template's HTTP APIs (resources resolved, an Api's `Ref` its logical id) on
 * `127.0.0.1:<port>`, with the inspector at `/ui` when asked.
 *
 * @example
 * const server = await serveTemplate({ resources, functionOf, invoke, env, port: 0, inspector: true, rules, log });
 */
export async function serveTemplate(opts: {
  readonly resources: Record<string, CfnResource>;
  readonly templateFile: string;
  readonly functionOf: (arnOrName: string) => string | undefined;
  /** Invokes a function; rejects with `FunctionError` when it failed. */
  readonly invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
  readonly env: LocalEnv;
  readonly port: number;
  readonly inspector: boolean;
  readonly rules: TemplateRules;
  readonly log: LogSink;
}): Promise<TemplateServer> {
  const apis = httpApiRoutes(opts.resources, opts.templateFile, opts.functionOf);
  const routes = apis.flatMap((api) => api.routes);
  const handle = createHttpApiHandler({
    routes,
    env: opts.env,
    log: opts.log,
    invoke: async (fn, event): Promise<FunctionOutcome> => {
      try {
        return { ok: true, result: await opts.invoke(fn, event) };
      } catch (err) {
        return err instanceof FunctionError
          ? { ok: false, errorType: err.errorType, errorMessage: err.message }
          : {
              ok: false,
              errorType: 'Local.Error',
              errorMessage: err instanceof Error ? err.message : String(err),
            };
      }
    },
  });
  const inspector = opts.inspector ? createInspector() : undefined;
  const json = (status: number, body: unknown) => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const server = await serveHttpApi({
    port: opts.port,
    handle,
    log: opts.log,
    fallback: async (req) => {
      const rule = RUN_RULE.exec(req.rawPath)?.[1];
      if (rule !== undefined && req.method === 'POST') {
        try {
          opts.rules.runSchedule(rule);
          return json(202, { rule, run: true });
        } catch (err) {
          if (err instanceof NotFoundError) return json(404, { message: err.message });
          throw err;
        }
      }
      return inspector?.handle(req.method, req.rawPath);
    },
  });
  return {
    url: server.url,
    notice: [...authorizationNotice(routes), ...opts.rules.notice()],
    close: () => server.close(),
  };
}
