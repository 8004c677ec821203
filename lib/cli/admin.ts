/**
 * The manager commands of the CLI: `configure` (a session's own task configuration), and the
 * instance administration `metadata`, `resolve-logs` and `set-status`, each one call of
 * `TriggersClient` against the HTTP API.
 * May import: anything under lib/ (cli), Node.js.
 *
 * @module
 */
import type { TriggersClient } from '../client/client.ts';
import type { InstanceStatus, Kwargs, TaskConfig } from '../types.ts';
import { usageError } from './errors.ts';
import { jsonObjectArg } from './input.ts';

/** What the manager commands read from the command line. */
export interface AdminCommandInput {
  /** The positionals after the command: session, then instance, then status. */
  readonly args: readonly string[];
  readonly values: {
    tasks?: string;
    workflow?: string;
    metadata?: string;
    cascade?: boolean;
    'cascade-kwargs'?: string;
    json?: boolean;
  };
  /** Where `@file` arguments resolve from. */
  readonly cwd: string;
  readonly stdout: (s: string) => void;
}

/** A manager command: validates its arguments, then makes one call of the client. */
export type AdminCommand = (input: AdminCommandInput, client: TriggersClient) => Promise<void>;

function out(input: AdminCommandInput, json: unknown, text: string): void {
  input.stdout(input.values.json ? `${JSON.stringify(json)}\n` : text);
}

function positional(input: AdminCommandInput, i: number): string {
  return input.args[i] as string;
}

/** A JSON object option, inline or `@file`; undefined when absent. */
function objectOption(
  input: AdminCommandInput,
  option: 'tasks' | 'metadata' | 'cascade-kwargs',
): Record<string, unknown> | undefined {
  const value = input.values[option];
  return value === undefined ? undefined : jsonObjectArg(`--${option}`, value, input.cwd);
}

/** A JSON object option the command cannot do without. */
function requiredObject(
  input: AdminCommandInput,
  command: string,
  option: 'tasks' | 'metadata',
): Record<string, unknown> {
  const value = objectOption(input, option);
  if (value === undefined) throw usageError(`${command}: --${option} is required`);
  return value;
}

/**
 * `triggers configure <session> --tasks JSON|@file [--workflow W]`: the session's own task
 * configuration, merged by task name into its workflow (a new session starts from `W`, else
 * the default workflow). Prints the workflow version the session now runs under.
 *
 * @example
 * await configureCommand({ args: ['s1'], values: { tasks: '@extra.json' }, cwd, stdout }, client);
 * // configured session s1: it runs workflow version 3f9a… from its next event
 */
export const configureCommand: AdminCommand = async (input, client) => {
  const session = positional(input, 0);
  const tasks = requiredObject(input, 'configure', 'tasks') as Record<string, TaskConfig>;
  const workflow = input.values.workflow;
  const answer = await client.configureSession(
    session,
    tasks,
    workflow !== undefined ? { workflow } : {},
  );
  const names = Object.keys(tasks);
  out(
    input,
    answer,
    `configured session ${answer.sessionId} (${names.length} task${names.length === 1 ? '' : 's'}: ${names.join(', ')}): it runs workflow version ${answer.workflowVersion} from its next event\n`,
  );
};

/**
 * `triggers metadata <session> <instance> --metadata JSON|@file`: merges the object (top level)
 * into the instance's metadata.
 *
 * @example
 * await metadataCommand({ args: ['s1', 't_a#0'], values: { metadata: '{"by":"ops"}' }, cwd, stdout }, client);
 */
export const metadataCommand: AdminCommand = async (input, client) => {
  const [session, instance] = [positional(input, 0), positional(input, 1)];
  const metadata = requiredObject(input, 'metadata', 'metadata') as Kwargs;
  await client.updateInstanceMetadata(session, instance, metadata);
  out(
    input,
    { sessionId: session, instance, action: 'metadata' },
    `metadata update of ${instance} in ${session} requested\n`,
  );
};

/**
 * `triggers resolve-logs <session> <instance>`: marks the instance's warnings and errors as
 * dealt with, so it leaves the session's `unresolvedLogs`.
 *
 * @example
 * await resolveLogsCommand({ args: ['s1', 't_a#0'], values: {}, cwd, stdout }, client);
 */
export const resolveLogsCommand: AdminCommand = async (input, client) => {
  const [session, instance] = [positional(input, 0), positional(input, 1)];
  await client.resolveInstanceLogs(session, instance);
  out(
    input,
    { sessionId: session, instance, action: 'resolve-logs' },
    `logs of ${instance} in ${session} marked resolved\n`,
  );
};

/**
 * `triggers set-status <session> <instance> <status> [--metadata JSON|@file] [--cascade]
 * [--cascade-kwargs JSON|@file]`: sets the instance's status by hand; with `finished` and
 * `--cascade`, fires the task's name with the cascade kwargs as its result. `--cascade-kwargs`
 * without `--cascade` is a usage error; the API judges the status (exit 2 when it refuses).
 *
 * @example
 * await setStatusCommand({ args: ['s1', 't_a#0', 'finished'], values: { cascade: true }, cwd, stdout }, client);
 */
export const setStatusCommand: AdminCommand = async (input, client) => {
  const [session, instance] = [positional(input, 0), positional(input, 1)];
  const status = positional(input, 2) as InstanceStatus;
  const cascade = input.values.cascade === true;
  const metadata = objectOption(input, 'metadata') as Kwargs | undefined;
  const cascadeKwargs = objectOption(input, 'cascade-kwargs') as Kwargs | undefined;
  if (cascadeKwargs !== undefined && !cascade) {
    throw usageError('set-status: --cascade-kwargs goes with --cascade');
  }
  await client.setInstanceStatus(session, instance, status, {
    ...(metadata !== undefined ? { metadata } : {}),
    ...(cascade ? { cascade } : {}),
    ...(cascadeKwargs !== undefined ? { cascadeKwargs } : {}),
  });
  out(
    input,
    { sessionId: session, instance, action: 'set-status', status, cascade },
    `status ${status} for ${instance} in ${session}${cascade ? ' (cascading)' : ''} requested\n`,
  );
};
