#!/usr/bin/env -S npx tsx
/**
 * The `triggers` executable: runs the CLI on the process's streams and environment, and turns
 * SIGINT and SIGTERM into an abort of the running command.
 * May import: anything (a tool above every layer).
 *
 * @module
 */
import { commandOf, runCli } from '../lib/cli/main.ts';

const argv = process.argv.slice(2);
// `watch` ends by itself and a request gets two seconds to finish; `dev` stops its emulators,
// which may take a few seconds more (DynamoDB Local gets five before it is killed).
const graceMs = commandOf(argv) === 'dev' ? 20_000 : 2_000;

const stop = new AbortController();
// `on`, not `once`: while the command stops, a listener must stay, or the emulators' own signal
// hook would re-raise the signal and end the process before the stack has stopped.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    if (stop.signal.aborted) return;
    stop.abort(signal);
    setTimeout(() => process.exit(130), graceMs).unref();
  });
const io = {
  stdout: (s: string) => void process.stdout.write(s),
  stderr: (s: string) => void process.stderr.write(s),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
  signal: stop.signal,
};
const code = await runCli(argv, io);
// Stopped by a signal, the command is done: a handle left open (an idle SDK socket) must not
// hold the process until the forced exit above.
if (stop.signal.aborted) process.exit(code);
process.exitCode = code;
