/**
 * The engine is pure: it imports only its siblings (and the package's plain type and error
 * modules) and zod, and never reads the clock, randomness or the process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');
const ENGINE = join(LIB, 'engine');

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Every module specifier a file imports or re-exports, dynamic imports and requires included. */
function importSpecifiers(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** The file's code without its comments (string literals stay). */
function codeOf(file: string): string {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  return ts.createPrinter({ removeComments: true }).printFile(source);
}

const isRelative = (spec: string) => spec.startsWith('./') || spec.startsWith('../');

/** The engine's files plus every file they reach through relative imports. */
function engineClosure(): string[] {
  const seen = new Set<string>();
  const queue = tsFilesUnder(ENGINE);
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of importSpecifiers(file).filter(isRelative)) {
      queue.push(resolve(dirname(file), spec));
    }
  }
  return [...seen].sort();
}

const engineFiles = tsFilesUnder(ENGINE);
const closure = engineClosure();
const label = (file: string) => relative(LIB, file);

const FORBIDDEN_CODE = ['Date.now', 'new Date(', 'Math.random', 'process.', 'setTimeout'];

describe('the engine', () => {
  it('has source files to check', () => {
    expect(engineFiles.map(label)).toEqual(
      expect.arrayContaining(['engine/index.ts', 'engine/session.ts', 'engine/workflow.ts']),
    );
  });

  it.each(engineFiles.map((f) => [label(f), f]))(
    '%s imports only relative modules and zod',
    (_name, file) => {
      const specs = importSpecifiers(file);

      const outside = specs.filter((s) => !isRelative(s) && s !== 'zod');

      expect(outside).toEqual([]);
    },
  );

  it.each(closure.map((f) => [label(f), f]))(
    '%s, reached from the engine, imports nothing from AWS, Node or the runtime',
    (_name, file) => {
      const specs = importSpecifiers(file);

      const impure = specs.filter(
        (s) =>
          (!isRelative(s) && s !== 'zod') || /(^|\/)(runtime|testing|client)(\/|\.ts$)/.test(s),
      );

      expect(impure).toEqual([]);
      expect(file.startsWith(`${LIB}/`), `${label(file)} stays inside lib/`).toBe(true);
    },
  );

  it.each(closure.map((f) => [label(f), f]))(
    '%s, reached from the engine, reads no clock, randomness, process or timer',
    (_name, file) => {
      const code = codeOf(file);

      const found = FORBIDDEN_CODE.filter((token) => code.includes(token));

      expect(found).toEqual([]);
    },
  );
});

describe('the purity checks themselves', () => {
  it('see Node, AWS and bare module imports, dynamic imports and re-exports', () => {
    const source = [
      "import { readFileSync } from 'node:fs';",
      "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
      "import http from 'http';",
      "export { randomUUID } from 'crypto';",
      "const later = await import('node:timers');",
      "import { z } from 'zod';",
      "import { x } from './sibling.ts';",
    ].join('\n');

    const specs = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);

    expect(specs.filter((s) => !isRelative(s) && s !== 'zod')).toEqual([
      'node:fs',
      '@aws-sdk/client-dynamodb',
      'http',
      'crypto',
      'node:timers',
    ]);
  });
});
