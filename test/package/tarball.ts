/**
 * The packed tarball, and the consumer projects made from it, for the package checks: one
 * `npm pack` per test run (from the `dist/` that `npm test` builds first, scripts ignored), a
 * temporary folder outside the repository for every consumer project, and the commands they
 * run, in an environment like a user's shell. Imports Node.js only.
 *
 * Set `KEEP_PACKAGE_TMP=1` to keep the temporary folder (its path is printed) for debugging.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

/** The repository's root. */
export const REPO = realpathSync(join(import.meta.dirname, '../..'));

/** The repository's package.json. */
export const REPO_MANIFEST = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  exports?: unknown;
  bin?: unknown;
  main?: unknown;
  module?: unknown;
  types?: unknown;
};

/** The version of a package installed in the repository (the versions the checks pin). */
export function repoInstalledVersion(name: string): string {
  const manifest = join(REPO, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** A tool from the repository's own `node_modules/.bin` (publint, attw, the CDK CLI). */
export const repoBin = (name: string): string => join(REPO, 'node_modules', '.bin', name);

const KEEP = process.env.KEEP_PACKAGE_TMP === '1';

let root: string | undefined;

/** This run's temporary folder, outside the repository; `cleanUp` removes it. */
export function packageTmp(): string {
  if (root === undefined) {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'serverless-triggers-package-')));
    if (!relative(REPO, root).startsWith('..')) {
      throw new Error(
        `the temporary folder ${root} is inside the repository: set TMPDIR elsewhere`,
      );
    }
  }
  return root;
}

/** A new, empty folder under this run's temporary folder. */
export function tmpProject(name: string): string {
  const dir = join(packageTmp(), name);
  mkdirSync(dir);
  return dir;
}

/** The outcome of one command. */
export interface CommandResult {
  readonly command: string;
  readonly cwd: string;
  /** The exit code, `null` when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of `run`. */
export interface RunOptions {
  readonly cwd: string;
  /** Added to (or, as `undefined`, removed from) the consumer environment. */
  readonly env?: Record<string, string | undefined>;
  /** @default 300_000 */
  readonly timeoutMs?: number;
  /** Written to the command's stdin, which is closed after it. @default - none */
  readonly input?: string;
}

/**
 * Variables of this test run that a user's shell would not have: vitest's and npm's own (npm
 * passes the repository's `npm test` state down), the endpoints the repository's integration
 * tests export, credentials and loaders.
 */
const NOT_A_USERS_SHELL = [
  /^VITEST/,
  /^TINYPOOL/,
  /^TRIGGERS_/,
  /^AWS_/,
  /^CDK_/,
  /^npm_lifecycle_/,
  /^npm_package_/,
  /^npm_command$/,
  /^npm_config_local_prefix$/,
  /^INIT_CWD$/,
  /^NODE_OPTIONS$/,
  /^NODE_PATH$/,
  /^NODE_V8_COVERAGE$/,
  /^NODE_ENV$/,
  /^FORCE_COLOR$/,
  /^TEST$/,
];

/** The environment consumer commands run in: this process's, as a user's shell would have it. */
export function consumerEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!NOT_A_USERS_SHELL.some((pattern) => pattern.test(key))) env[key] = value;
  }
  // No colours in captured output; the CDK CLI sends no telemetry and fetches no notices.
  env.NO_COLOR = '1';
  env.CDK_DISABLE_CLI_TELEMETRY = 'true';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Children still running, by pid: `cleanUp` ends their process groups. */
const running = new Map<number, ChildProcess>();

/**
 * Starts `command` in its own process group, in the consumer environment; the caller reads
 * its output. `stop` sends a signal to the command (not its group).
 */
export function start(
  command: string,
  args: readonly string[],
  opts: RunOptions,
): {
  child: ChildProcess;
  done: Promise<CommandResult>;
  /** The last `lines` lines of its output so far (40 by default). */
  output: (lines?: number) => string;
} {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: consumerEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin?.end(opts.input ?? '');
  if (child.pid !== undefined) running.set(child.pid, child);
  const shown = [command, ...args].join(' ');
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const done = new Promise<CommandResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child);
      reject(
        new Error(
          `${shown} (in ${opts.cwd}) ran over ${timeoutMs / 1000} s\n${tail(stdout, stderr)}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${shown} could not start: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ command: shown, cwd: opts.cwd, code, signal, stdout, stderr });
    });
  });
  return { child, done, output: (lines) => tail(stdout, stderr, lines) };
}

/** Runs `command` to its end in the consumer environment. */
export function run(
  command: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<CommandResult> {
  return start(command, args, opts).done;
}

/** The last lines of a command's output, for an assertion message. */
export function tail(stdout: string, stderr: string, lines = 40): string {
  const text = [stdout.trimEnd(), stderr.trimEnd()].filter((s) => s !== '').join('\n');
  const all = text.split('\n');
  const shown = all.slice(-lines).join('\n');
  return all.length > lines ? `... (${all.length - lines} lines before)\n${shown}` : shown;
}

/** What an assertion message says about a command: what ran, where, how it ended, its output. */
export function describeRun(result: CommandResult): string {
  const end = result.signal !== null ? `signal ${result.signal}` : `exit code ${result.code}`;
  return `${result.command} (in ${result.cwd}) ended with ${end}:\n${tail(result.stdout, result.stderr)}`;
}

/** Runs `command`, and throws with its output's tail unless it exits 0. */
export async function runOk(
  command: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<CommandResult> {
  const result = await run(command, args, opts);
  if (result.code !== 0) throw new Error(describeRun(result));
  return result;
}

/**
 * `npx <bin> ...args` in the project `opts.cwd`, once `bin` is found installed there (else npx
 * would fetch a package of that name from the registry).
 */
export function npx(
  bin: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<CommandResult> {
  if (!existsSync(join(opts.cwd, 'node_modules', '.bin', bin))) {
    return Promise.reject(new Error(`${bin} is not installed in ${opts.cwd}`));
  }
  return run('npx', [bin, ...args], opts);
}

/** `npm install` of `specs` in `dir`, from the npm cache when it can, without audit or funding. */
export function npmInstall(dir: string, specs: readonly string[]): Promise<CommandResult> {
  return runOk('npm', ['install', ...specs, '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    timeoutMs: 420_000,
  });
}

/** The packed tarball. */
export interface Tarball {
  /** Its path. */
  readonly file: string;
  /** The paths of the files it holds, relative to the package root. */
  readonly files: readonly string[];
  /** The unpacked size, in bytes. */
  readonly unpackedSize: number;
}

let packed: Promise<Tarball> | undefined;

/**
 * The package, packed once per run with `npm pack --ignore-scripts` from the `dist/` that
 * `npm test` built (building here would rewrite `dist/` while other test files read it).
 */
export function tarball(): Promise<Tarball> {
  packed ??= (async () => {
    if (!existsSync(join(REPO, 'dist', 'index.mjs'))) {
      throw new Error(`${join(REPO, 'dist')} is not built: run npm run build first`);
    }
    const destination = join(packageTmp(), 'pack');
    mkdirSync(destination);
    const result = await runOk(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', destination],
      { cwd: REPO, timeoutMs: 120_000 },
    );
    const [report] = JSON.parse(result.stdout) as {
      filename: string;
      unpackedSize: number;
      files: { path: string }[];
    }[];
    if (report === undefined) throw new Error(`npm pack reported nothing:\n${describeRun(result)}`);
    return {
      file: join(destination, report.filename),
      files: report.files.map((f) => f.path).sort(),
      unpackedSize: report.unpackedSize,
    };
  })();
  return packed;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Ends the commands still running (a check that timed out), then removes this run's temporary
 * folder, unless `KEEP_PACKAGE_TMP=1`.
 */
export function cleanUp(): void {
  for (const child of running.values()) killGroup(child);
  running.clear();
  if (root === undefined) return;
  if (KEEP) {
    process.stdout.write(`KEEP_PACKAGE_TMP=1: the consumer projects are kept in ${root}${sep}\n`);
    return;
  }
  rmSync(root, { recursive: true, force: true });
}
