/**
 * `TaskHandlerFunction` bundles the user's code from the user's project (its lock file, its
 * folder), and what it cannot do (no app module, no lock file, no esbuild) stops synth in a line.
 * May import: infra/functions.ts, anything under lib/.
 *
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEsbuild,
  esbuildInstalled,
  findLockFile,
  TaskHandlerFunction,
} from '../../infra/functions.ts';
import { NotAvailableError } from '../../lib/errors.ts';
import { unbundledApp } from './stacks.ts';

let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'task-fn-project-'));
  mkdirSync(join(project, 'src', 'deep'), { recursive: true });
  writeFileSync(join(project, 'package-lock.json'), '{"lockfileVersion":3}\n');
  writeFileSync(join(project, 'src', 'app.ts'), 'export const workflows = [];\n');
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

describe('findLockFile', () => {
  it('finds the nearest lock file at or above a folder', () => {
    expect(findLockFile(join(project, 'src', 'deep'))).toBe(join(project, 'package-lock.json'));
    expect(findLockFile(project)).toBe(join(project, 'package-lock.json'));
  });

  it('prefers the lock file nearest to the folder', () => {
    writeFileSync(join(project, 'src', 'yarn.lock'), '');
    try {
      expect(findLockFile(join(project, 'src', 'deep'))).toBe(join(project, 'src', 'yarn.lock'));
    } finally {
      rmSync(join(project, 'src', 'yarn.lock'));
    }
  });
});

describe('checkEsbuild', () => {
  it('passes where esbuild is installed (this repository has it)', () => {
    expect(esbuildInstalled()).toBe(true);
    expect(() => checkEsbuild("TaskHandlerFunction 'Score'")).not.toThrow();
  });

  it('stops with one line naming the install command when esbuild is missing', () => {
    const attempt = () => checkEsbuild("TaskHandlerFunction 'Score'", false);
    expect(attempt).toThrow(NotAvailableError);
    expect(attempt).toThrow(
      /^TaskHandlerFunction 'Score' bundles your handler code with esbuild, which is not installed: npm install --save-dev esbuild$/,
    );
  });
});

describe('TaskHandlerFunction', () => {
  it("writes its entry in the user's project, beside the lock file it bundles against", () => {
    const stack = new Stack(unbundledApp(), 'Tasks');
    new TaskHandlerFunction(stack, 'Score', {
      app: join(project, 'src', 'app.ts'),
      handler: 'score',
      depsLockFilePath: join(project, 'package-lock.json'),
    });

    const cache = join(project, 'node_modules', '.cache', 'serverless-triggers');
    expect(existsSync(cache)).toBe(true);
    const entries = readdirSync(cache, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('index.mjs'),
    );
    expect(entries).toHaveLength(1);
  });

  it('refuses an app module that does not exist, in one line', () => {
    const stack = new Stack(unbundledApp(), 'Missing');
    const missing = join(project, 'src', 'nope.ts');
    expect(
      () =>
        new TaskHandlerFunction(stack, 'Score', {
          app: missing,
          handler: 'score',
          depsLockFilePath: join(project, 'package-lock.json'),
        }),
    ).toThrow(`TaskHandlerFunction 'Score': the app module ${missing} does not exist`);
  });
});
