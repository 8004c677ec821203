#!/usr/bin/env -S npx tsx
import { runCli } from '../lib/cli/main.ts';

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    stop.abort();
    // watch ends by itself; anything else gets two seconds to finish its request.
    setTimeout(() => process.exit(130), 2000).unref();
  });
const io = {
  stdout: (s: string) => void process.stdout.write(s),
  stderr: (s: string) => void process.stderr.write(s),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
  signal: stop.signal,
};
process.exitCode = await runCli(process.argv.slice(2), io);
