/**
 * The CLI's own failures: each carries the exit code it ends the command with.
 *
 * @module
 */

/** Exit codes of the `triggers` CLI. */
export const EXIT = {
  ok: 0,
  usage: 1,
  refused: 2,
  unreachable: 3,
  /** `explore --fail-on-race`: the workflow ended more than one way. */
  orderDependent: 4,
} as const;

/** A failure the CLI reports as one line on stderr, exiting with `code`. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

/** A usage error (exit 1): bad arguments, invalid JSON, unknown command. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
