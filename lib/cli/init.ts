/**
 * `triggers init <dir>`: writes a new project (`init-template.ts`) into an empty or new folder,
 * with this package's own dependency versions, every file or none.
 * May import: anything under lib/ (cli), Node.js.
 *
 * @module
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { packageManifest } from '../package-root.ts';
import { CliError, EXIT } from './errors.ts';
import {
  initTemplate,
  projectName,
  SCAFFOLD_DEPENDENCIES,
  SCAFFOLD_DEV_DEPENDENCIES,
  type ScaffoldVersions,
} from './init-template.ts';
import type { CliIo } from './main.ts';

/**
 * The versions a new project depends on: `^` this package's version, and for every other
 * package the range this package is developed and tested with (its `devDependencies`, else its
 * `dependencies`, else its `peerDependencies`).
 *
 * @example
 * scaffoldVersions()['aws-cdk-lib']; // '^2.276.0'
 */
export function scaffoldVersions(): ScaffoldVersions {
  const manifest = packageManifest();
  const versions: Record<string, string> = { 'serverless-triggers': `^${manifest.version}` };
  for (const name of [...SCAFFOLD_DEPENDENCIES, ...SCAFFOLD_DEV_DEPENDENCIES]) {
    const range =
      manifest.devDependencies?.[name] ??
      manifest.dependencies?.[name] ??
      manifest.peerDependencies?.[name];
    if (range === undefined) {
      throw new CliError(
        `serverless-triggers' package.json names no version of '${name}'`,
        EXIT.devFailed,
      );
    }
    versions[name] = range;
  }
  return versions as ScaffoldVersions;
}

/** What is at `target`: nothing, an empty folder, or something `init` must not touch. */
async function inspectTarget(target: string): Promise<'missing' | 'empty' | string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  if (!info.isDirectory()) return 'it exists and is not a directory';
  return (await readdir(target)).length === 0 ? 'empty' : 'it is not empty';
}

/**
 * Writes `files` (relative paths with `/` separators) into `target`, a folder that is empty or
 * does not exist yet. Every file or none: when a write fails, what this call created (the
 * folder itself and any missing parents, or the entries it added to the empty folder) is
 * removed before the error is rethrown. Never overwrites a file.
 *
 * @example
 * await writeProject('/srv/my-orders', { 'package.json': '{}\n' });
 */
export async function writeProject(target: string, files: Record<string, string>): Promise<void> {
  const created: string[] = [];
  const track = (path: string | undefined): void => {
    if (path !== undefined) created.push(path);
  };
  try {
    track(await mkdir(target, { recursive: true }));
    for (const [path, content] of Object.entries(files)) {
      const file = join(target, ...path.split('/'));
      track(await mkdir(dirname(file), { recursive: true }));
      await writeFile(file, content, { flag: 'wx' });
      track(file);
    }
  } catch (err) {
    for (const path of created.reverse()) await rm(path, { recursive: true, force: true });
    throw err;
  }
}

/** A path as the user would type it in a shell: quoted when it holds anything unusual. */
const shellWord = (path: string): string =>
  /^[\w./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;

const oneLine = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();

/**
 * `triggers init <dir>`: a new project in `dir` (resolved against `io.cwd`), ready for
 * `npm install && npm test && npx cdk synth && npm run dev`. Refuses a folder that is not
 * empty, writing nothing. Returns the exit code: `EXIT.devUsage` (2) for a missing or refused
 * folder, `EXIT.devFailed` (1) when writing fails.
 *
 * @example
 * process.exitCode = await runInit('my-orders', io);
 */
export async function runInit(dir: string | undefined, io: CliIo): Promise<number> {
  if (dir === undefined || dir.trim() === '') {
    io.stderr('triggers: init: missing <dir>, the folder of the new project\n');
    return EXIT.devUsage;
  }
  const cwd = io.cwd ?? process.cwd();
  const target = resolve(cwd, dir);
  const shown = relative(cwd, target) || '.';
  try {
    const state = await inspectTarget(target);
    if (state !== 'missing' && state !== 'empty') {
      io.stderr(`triggers: init: refusing to write into '${shown}': ${state}\n`);
      return EXIT.devUsage;
    }
    const name = projectName(basename(target));
    const files = initTemplate(name, scaffoldVersions());
    await writeProject(target, files);
    const paths = Object.keys(files).sort();
    const cd = shown === '.' ? '' : `cd ${shellWord(shown)} && `;
    io.stdout(
      [
        `Created ${name} in ${target}:`,
        ...paths.map((path) => `  ${path}`),
        '',
        'Next steps:',
        `  ${cd}npm install`,
        '  npm test          # the workflow tests, in memory',
        '  npm run dev       # the local stack on http://127.0.0.1:3000',
        '  npx cdk synth     # the CloudFormation template',
        '  npm run dev:template  # that template run locally, IAM enforced',
        '  npx cdk deploy    # to your AWS account',
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  } catch (err) {
    io.stderr(`triggers: init: could not create '${shown}': ${oneLine(err)}\n`);
    return EXIT.devFailed;
  }
}
