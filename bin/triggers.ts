#!/usr/bin/env -S npx tsx
import { runCli } from '../lib/cli/main.ts';

const io = {
  stdout: (s: string) => void process.stdout.write(s),
  stderr: (s: string) => void process.stderr.write(s),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
};
process.exitCode = await runCli(process.argv.slice(2), io);
