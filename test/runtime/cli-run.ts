/**
 * Runs a CLI command of `lib/cli` in-process with an io that captures what it writes: the one
 * way every CLI test calls `runCli`, `runInit` and the like.
 */
import { expect } from 'vitest';
import type { CliIo } from '../../lib/cli/main.ts';

/** What a command returned and wrote. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The io of a captured run, less what it captures; `onOutput` sees each stdout write as it comes. */
export type CapturedIo = Omit<CliIo, 'stdout' | 'stderr'> & { onOutput?: (s: string) => void };

/**
 * Runs `command` with `io`, capturing stdout and stderr.
 *
 * @example
 * const run = await captureCli((io) => runCli(['--help'], io), { env: {} });
 * run.stdout; // 'Usage: triggers <command> ...'
 */
export async function captureCli(
  command: (io: CliIo) => Promise<number>,
  io: CapturedIo,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const { onOutput, ...rest } = io;
  const code = await command({
    ...rest,
    stdout: (s) => {
      stdout += s;
      onOutput?.(s);
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { code, stdout, stderr };
}

/**
 * Expects a refusal: exactly one `triggers: ...` line on stderr matching `pattern`, no stack
 * trace, nothing on stdout, and the exit code.
 *
 * @example
 * expectOneLineError(await cli(['fire']), 1, /missing <session>/);
 */
export function expectOneLineError(run: CliRun, code: number, pattern: RegExp): void {
  expect(run.stderr).toMatch(/^triggers: [^\n]+\n$/);
  expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+/);
  expect(run.stderr).toMatch(pattern);
  expect(run.stdout).toBe('');
  expect(run.code).toBe(code);
}
