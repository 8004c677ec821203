/**
 * `triggers dev --template` before anything starts: an assembly the template mode cannot run
 * ends `dev` with one `triggers: ...` line naming the path and exit code 1, and options that do
 * not go together are usage errors (exit 2). None of this starts an emulator: the assembly is
 * read, and refused, first. The running mode is in `test/integration/template.test.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../../lib/cli/errors.ts';
import { runCli } from '../../lib/cli/main.ts';
import { startEmulators } from '../../lib/local/emulators.ts';
import { type CliRun, captureCli, expectOneLineError } from './cli-run.ts';

// The refusals below come before the emulators: starting them would be a bug.
vi.mock('../../lib/local/emulators.ts', async (original) => ({
  ...(await original<typeof import('../../lib/local/emulators.ts')>()),
  startEmulators: vi.fn(async () => {
    throw new Error('the emulators were started');
  }),
}));

let dir: string;

/** A path as a regular expression matching it literally. */
const literally = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'triggers-cli-template-'));
  // A stack of someone else's: one inline function, no Triggers construct.
  writeFileSync(
    join(dir, 'Plain.template.json'),
    JSON.stringify({
      Resources: {
        Worker0A1B2C3D: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            Code: { ZipFile: 'exports.handler = async () => ({});' },
            Handler: 'index.handler',
            Runtime: 'nodejs22.x',
          },
        },
      },
    }),
  );
  writeFileSync(join(dir, 'notes.json'), '{ "Resources": ');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(startEmulators).not.toHaveBeenCalled();
});

const cli = (args: string[]): Promise<CliRun> =>
  captureCli((io) => runCli(args, io), { env: {}, cwd: dir });

describe('triggers dev --template: an assembly it cannot run is one line and exit 1', () => {
  it('refuses a path that does not exist, naming it', async () => {
    expectOneLineError(
      await cli(['dev', '--template', 'cdk.out', '--port', '0']),
      EXIT.devFailed,
      new RegExp(`^triggers: ${literally(join(dir, 'cdk.out'))}: no such file or folder\\n$`),
    );
  });

  it('refuses a template without a Triggers construct, naming the template', async () => {
    expectOneLineError(
      await cli(['dev', '--template', 'Plain.template.json']),
      EXIT.devFailed,
      /Plain\.template\.json: has no Triggers construct/,
    );
  });

  it('refuses a folder that holds no assembly, and a file that is not JSON', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    expectOneLineError(
      await cli(['dev', '--template', empty]),
      EXIT.devFailed,
      /empty-\w+: holds no cloud assembly \(manifest\.json\) and no \*\.template\.json/,
    );
    expectOneLineError(
      await cli(['dev', '--template', 'notes.json']),
      EXIT.devFailed,
      /notes\.json: is not JSON/,
    );
  });
});

describe('triggers dev --template: options that do not go together are usage errors (exit 2)', () => {
  it('refuses --template with --app, and with --persist', async () => {
    expectOneLineError(
      await cli(['dev', '--template', 'cdk.out', '--app', 'app.ts']),
      EXIT.devUsage,
      /--template runs the synthesized stack: it takes neither --app nor --persist/,
    );
    expectOneLineError(
      await cli(['dev', '--template', 'cdk.out', '--persist', 'data']),
      EXIT.devUsage,
      /takes neither --app nor --persist/,
    );
  });

  it('refuses --stack without --template', async () => {
    expectOneLineError(
      await cli(['dev', '--stack', 'TriggersSurvey']),
      EXIT.devUsage,
      /--stack goes with --template/,
    );
  });

  it('refuses a bad --port before reading the assembly', async () => {
    expectOneLineError(
      await cli(['dev', '--template', 'cdk.out', '--port', 'eighty']),
      EXIT.devUsage,
      /--port: 'eighty' is not a port number/,
    );
  });
});
