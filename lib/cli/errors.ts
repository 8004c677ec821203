/**
 * The CLI's own failures, each carrying the exit code it ends the command with, and those codes.
 * May import: nothing (cli).
 *
 * @module
 */

/** Exit codes of the `triggers` CLI. */
export const EXIT = {
  ok: 0,
  /** Bad arguments of the API commands (`fire`, `inspect`, `graph`, ...). */
  usage: 1,
  refused: 2,
  unreachable: 3,
  /** `explore --fail-on-race`: the workflow ended more than one way. */
  orderDependent: 4,
  /** `dev` and `init`: the stack or the project could not be made (port taken, no Java...). */
  devFailed: 1,
  /** `dev` and `init`: bad arguments, or an app module that is missing, broken or invalid. */
  devUsage: 2,
} as const;

/** A failure the CLI reports as one line on stderr, exiting with `code`. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code: number, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Bad arguments: exit 1 for the API commands; `runCli` ends `dev` and `init` with
 * `EXIT.devUsage` instead.
 */
export class UsageError extends CliError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, EXIT.usage, opts);
  }
}

/** A usage error (exit 1): bad arguments, invalid JSON, unknown command. */
export function usageError(message: string): UsageError {
  return new UsageError(message);
}
