/**
 * `triggers dev` in a consumer project, in either mode (an app module of the project, or its
 * synthesized cloud assembly with `--template`): starts it on a free loopback port, fires an event
 * over HTTP, polls the session until the task's instance is finished, stops it with SIGINT and
 * checks it let go of its ports. Imports Node.js and the tarball helpers.
 *
 * @module
 */
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../../lib/local/emulators.ts';
import { type CommandResult, describeRun, start } from './tarball.ts';

/** A TypeScript app module (type annotations: it needs a loader) for the dev round trip. */
export const DEV_APP_MODULE = `// The app module the package test serves with \`triggers dev\`.
import { defineWorkflow, type TaskHandler, type Workflow } from 'serverless-triggers';

const greeting: Workflow = defineWorkflow('greeting', {
  t_greet: { after: ['hello'], run: 'greet' },
});

const greet: TaskHandler = ({ kwargs }) => ({ greeting: \`hello \${String(kwargs.hello?.name)}\` });

export const workflows: Workflow[] = [greeting];
export const handlers: Record<string, TaskHandler> = { greet };
`;

/** Whether something accepts TCP connections at `url`'s host and port. */
async function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  const socket = createConnection({ host: hostname, port: Number(port) });
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** What a round trip fires, and the instance it waits for. */
export interface StackFire {
  readonly sessionId: string;
  readonly trigger: string;
  readonly kwargs: Record<string, unknown>;
  /** The instance (`task#n`) that must finish. */
  readonly instance: string;
}

/** What the round trip saw. */
export interface StackRoundTrip {
  readonly port: number;
  /** The first lines it printed, up to `Ctrl+C stops it.`. */
  readonly banner: string;
  /** The URLs the banner printed. */
  readonly apiUrl: string | undefined;
  readonly dynamodbUrl: string | undefined;
  readonly fire: { status: number; body: unknown };
  /** The session view once the instance finished (or the last one polled). */
  readonly session: {
    instances?: { name: string; status: string; result?: unknown }[];
    unresolvedTasks?: string[];
  };
  readonly exit: CommandResult;
  /** Whether the API and DynamoDB Local still accepted connections after the exit. */
  readonly afterExit: { api: boolean; dynamodb: boolean | undefined };
}

/** How long the stack may take to come up: an emulator start and a process per function. */
const UP_WITHIN_MS = 240_000;
/** How long the fired instance may take to finish: ingest, evaluator, task. */
const FINISHED_WITHIN_MS = 90_000;
const STOPPED_WITHIN_MS = 60_000;

/**
 * `triggers dev <mode...> --port <free>` in `dir` (the project's own `triggers`), a fire of
 * `what.trigger` into `what.sessionId`, `GET /sessions/{id}` until `what.instance` is finished,
 * SIGINT. Throws, with the command's output, when the stack does not come up, the instance does
 * not finish or the command does not stop in time.
 */
async function stackRoundTrip(
  dir: string,
  mode: readonly string[],
  what: StackFire,
): Promise<StackRoundTrip> {
  const port = await freeLoopbackPort();
  const dev = start(
    join(dir, 'node_modules', '.bin', 'triggers'),
    ['dev', ...mode, '--port', String(port)],
    { cwd: dir, timeoutMs: UP_WITHIN_MS + FINISHED_WITHIN_MS + STOPPED_WITHIN_MS + 60_000 },
  );
  let exited: CommandResult | undefined;
  void dev.done.then(
    (result) => {
      exited = result;
    },
    () => {},
  );
  const fail = (failure: string): never => {
    dev.child.kill('SIGINT');
    throw new Error(`triggers dev ${mode[0]} ${failure}:\n${dev.output()}`);
  };

  for (let waited = 0; !dev.output().includes('Ctrl+C'); waited += 250) {
    if (exited !== undefined) {
      throw new Error(`triggers dev ${mode[0]} exited early: ${describeRun(exited)}`);
    }
    if (waited > UP_WITHIN_MS) fail(`did not come up in ${UP_WITHIN_MS / 1000} s`);
    await sleep(250);
  }
  // All of it: the template mode's banner lists every route, more lines than a tail shows.
  const banner = dev.output(Number.POSITIVE_INFINITY);
  const apiUrl = /HTTP API\s+(http:\/\/\S+)/.exec(banner)?.[1];
  const dynamodbUrl = /DynamoDB\s+(http:\/\/\S+)/.exec(banner)?.[1];

  const base = `http://127.0.0.1:${port}`;
  const path = `/sessions/${encodeURIComponent(what.sessionId)}`;
  const request = async (to: string, init?: RequestInit) => {
    try {
      const response = await fetch(`${base}${to}`, init);
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        // Not JSON: kept as text, for the assertion message.
      }
      return { status: response.status, body };
    } catch (err) {
      return fail(`did not answer ${init?.method ?? 'GET'} ${to}: ${String(err)}`);
    }
  };
  const fire = await request(`${path}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ trigger: what.trigger, kwargs: what.kwargs }),
  });

  let session: StackRoundTrip['session'] = {};
  const finished = () =>
    session.instances?.some((i) => i.name === what.instance && i.status === 'finished') === true;
  for (let waited = 0; fire.status === 202 && !finished(); waited += 500) {
    if (waited > FINISHED_WITHIN_MS) {
      fail(
        `did not finish ${what.instance} in ${FINISHED_WITHIN_MS / 1000} s (last view: ${JSON.stringify(session)})`,
      );
    }
    await sleep(500);
    const got = await request(path);
    if (got.status === 200) session = got.body as StackRoundTrip['session'];
  }

  dev.child.kill('SIGINT');
  const stopping = new AbortController();
  const exit = await Promise.race([
    dev.done.finally(() => stopping.abort()),
    sleep(STOPPED_WITHIN_MS, undefined, { signal: stopping.signal }).then(
      () => fail(`did not stop within ${STOPPED_WITHIN_MS / 1000} s of SIGINT`),
      () => dev.done,
    ),
  ]);
  return {
    port,
    banner,
    apiUrl,
    dynamodbUrl,
    fire,
    session,
    exit,
    afterExit: {
      api: await accepts(base),
      dynamodb: dynamodbUrl === undefined ? undefined : await accepts(dynamodbUrl),
    },
  };
}

/**
 * `triggers dev --app <app>`: a fire of `hello` into session `dev-1`, until `t_greet#0` is
 * finished.
 *
 * @example
 * const trip = await devRoundTrip(dir, 'dev/greeting.ts');
 */
export function devRoundTrip(dir: string, app: string): Promise<StackRoundTrip> {
  return stackRoundTrip(dir, ['--app', app], {
    sessionId: 'dev-1',
    trigger: 'hello',
    kwargs: { name: 'ada' },
    instance: 't_greet#0',
  });
}

/**
 * `triggers dev --template <assembly>`: the project's synthesized stack, IAM enforced.
 *
 * @example
 * const trip = await templateRoundTrip(dir, join(dir, 'cdk.out'), {
 *   sessionId: 'order-1', trigger: 'orderPlaced', kwargs: { items: ['book'] }, instance: 't_reserve#0',
 * });
 * trip.exit.stdout; // '... stopping (0 denied AWS calls)\n'
 */
export function templateRoundTrip(
  dir: string,
  assembly: string,
  what: StackFire,
): Promise<StackRoundTrip> {
  return stackRoundTrip(dir, ['--template', assembly], what);
}
