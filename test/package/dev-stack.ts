/**
 * `triggers dev` in a consumer project: starts it on a free loopback port for a TypeScript app
 * module of the project, fires an event over HTTP, polls the session until the task's instance
 * is finished, stops it with SIGINT and checks it let go of its ports. Imports Node.js and the
 * tarball helpers.
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

/** What the round trip saw. */
export interface DevRoundTrip {
  readonly port: number;
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

/**
 * `triggers dev --app <app> --port <free>` in `dir` (the project's own `triggers`), a fire of
 * `hello` into session `dev-1`, `GET /sessions/dev-1` until `t_greet#0` is finished, SIGINT.
 * Throws, with the command's output, when the stack does not come up or the instance does not
 * finish in time.
 */
export async function devRoundTrip(dir: string, app: string): Promise<DevRoundTrip> {
  const port = await freeLoopbackPort();
  const dev = start(
    join(dir, 'node_modules', '.bin', 'triggers'),
    ['dev', '--app', app, '--port', String(port)],
    { cwd: dir, timeoutMs: 420_000 },
  );
  let exited: CommandResult | undefined;
  void dev.done.then(
    (result) => {
      exited = result;
    },
    () => {},
  );
  const fail = (what: string): never => {
    dev.child.kill('SIGINT');
    throw new Error(`triggers dev ${what}:\n${dev.output()}`);
  };

  const base = `http://127.0.0.1:${port}`;
  for (let waited = 0; !dev.output().includes('Ctrl+C'); waited += 250) {
    if (exited !== undefined) throw new Error(`triggers dev exited early: ${describeRun(exited)}`);
    if (waited > 240_000) fail('did not come up in 240 s');
    await sleep(250);
  }
  const banner = dev.output();
  const apiUrl = /HTTP API\s+(http:\/\/\S+)/.exec(banner)?.[1];
  const dynamodbUrl = /DynamoDB\s+(http:\/\/\S+)/.exec(banner)?.[1];

  const request = async (path: string, init?: RequestInit) => {
    try {
      const response = await fetch(`${base}${path}`, init);
      return { status: response.status, body: (await response.json()) as unknown };
    } catch (err) {
      return fail(`did not answer ${init?.method ?? 'GET'} ${path}: ${String(err)}`);
    }
  };
  const fire = await request('/sessions/dev-1/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ trigger: 'hello', kwargs: { name: 'ada' } }),
  });

  let session: DevRoundTrip['session'] = {};
  const finished = () =>
    session.instances?.some((i) => i.name === 't_greet#0' && i.status === 'finished') === true;
  for (let waited = 0; fire.status === 202 && !finished(); waited += 250) {
    if (waited > 60_000) {
      fail(`did not finish t_greet#0 in 60 s (last view: ${JSON.stringify(session)})`);
    }
    await sleep(250);
    const got = await request('/sessions/dev-1');
    if (got.status === 200) session = got.body as DevRoundTrip['session'];
  }

  dev.child.kill('SIGINT');
  const stopping = new AbortController();
  const exit = await Promise.race([
    dev.done.finally(() => stopping.abort()),
    sleep(60_000, undefined, { signal: stopping.signal }).then(
      () => fail('did not stop within 60 s of SIGINT'),
      () => dev.done,
    ),
  ]);
  return {
    port,
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
