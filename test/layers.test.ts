/**
 * The import arrows run one way: engine ← store ← core ← adapters / local / testing / client ←
 * cli, infra. Every relative import of every source file is checked against its layer's rule.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type Layer =
  | 'base'
  | 'engine'
  | 'store'
  | 'core'
  | 'adapters'
  | 'local'
  | 'testing'
  | 'client'
  | 'cli'
  | 'entry'
  | 'infra'
  | 'outside';

const BASE = [
  'lib/types.ts',
  'lib/errors.ts',
  'lib/class-identity.ts',
  'lib/handler.ts',
  'lib/package-root.ts',
];

/** The layer of a repository path (relative to the root, `/`-separated). */
function layerOf(path: string): Layer {
  if (BASE.includes(path)) return 'base';
  if (path === 'lib/index.ts') return 'entry';
  const folder = /^lib\/(engine|store|core|adapters|local|testing|client|cli)\//.exec(path)?.[1];
  if (folder !== undefined) return folder as Layer;
  if (path.startsWith('infra/')) return 'infra';
  return 'outside';
}

const BELOW_CORE: readonly Layer[] = ['base', 'engine', 'store', 'core'];

/**
 * What each layer may import. The store may import only the engine and the plain type, error
 * and class-identity modules (not `handler.ts` or `package-root.ts`): `storeMayImport` says so.
 */
const MAY_IMPORT: Record<Exclude<Layer, 'outside'>, readonly Layer[]> = {
  base: ['base'],
  engine: ['engine', 'base'],
  store: ['store', 'engine', 'base'],
  core: BELOW_CORE,
  adapters: [...BELOW_CORE, 'adapters'],
  local: [...BELOW_CORE, 'adapters', 'local'],
  // The template backend drives the synthesized stack through its HTTP API, with the client.
  testing: [...BELOW_CORE, 'adapters', 'local', 'testing', 'client'],
  client: [...BELOW_CORE, 'client'],
  cli: [
    'base',
    'engine',
    'store',
    'core',
    'adapters',
    'local',
    'testing',
    'client',
    'cli',
    'entry',
  ],
  entry: [...BELOW_CORE, 'adapters', 'client'],
  infra: ['base', 'engine', 'store', 'core', 'adapters', 'entry', 'infra'],
};

const STORE_BASE = ['lib/types.ts', 'lib/errors.ts', 'lib/class-identity.ts'];

/** Whether a file of `from`'s layer may import `to` (both repository paths). */
function allowed(from: string, to: string): boolean {
  const source = layerOf(from);
  const target = layerOf(to);
  if (source === 'outside') return true;
  if (target === 'outside') return false;
  if (source === 'store' && target === 'base') return STORE_BASE.includes(to);
  return MAY_IMPORT[source].includes(target);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'))
    .filter((f) => !f.startsWith('lib/local/inspector/page/'))
    .sort();
}

/** The repository paths a file imports relatively (static, dynamic, re-exports). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((s) => s.startsWith('./') || s.startsWith('../'))
    .map((s) =>
      relative(ROOT, resolve(ROOT, dirname(file), s))
        .split('\\')
        .join('/'),
    );
}

const files = [...sourceFiles('lib'), ...sourceFiles('infra')];
const edges = files.flatMap((from) => importsOf(from).map((to) => ({ from, to })));

describe('the layers', () => {
  it('know every source file under lib/ and infra/', () => {
    const unknown = files.filter((f) => layerOf(f) === 'outside');

    expect(unknown).toEqual([]);
    expect(files.length).toBeGreaterThan(60);
  });

  it('let imports run only one way', () => {
    const wrong = edges.filter((e) => !allowed(e.from, e.to)).map((e) => `${e.from} -> ${e.to}`);

    expect(wrong).toEqual([]);
  });

  it('keep the store on the engine and the plain types and errors', () => {
    const fromStore = edges.filter((e) => layerOf(e.from) === 'store');
    const reached = new Set(fromStore.map((e) => layerOf(e.to)));

    expect([...reached].every((l) => l === 'store' || l === 'engine' || l === 'base')).toBe(true);
    expect(fromStore.filter((e) => layerOf(e.to) === 'base').map((e) => e.to)).toEqual(
      expect.not.arrayContaining(['lib/handler.ts', 'lib/package-root.ts']),
    );
  });

  it('never import infra/ from lib/', () => {
    const wrong = edges.filter((e) => e.from.startsWith('lib/') && e.to.startsWith('infra/'));

    expect(wrong).toEqual([]);
  });
});

describe('the layer rules themselves', () => {
  it.each([
    ['lib/store/dynamo-store.ts', 'lib/core/versions.ts'],
    ['lib/store/port.ts', 'lib/handler.ts'],
    ['lib/core/evaluator.ts', 'lib/adapters/aws-lambda/wiring.ts'],
    ['lib/core/http.ts', 'lib/local/stack.ts'],
    ['lib/engine/session.ts', 'lib/store/port.ts'],
    ['lib/adapters/aws-lambda/streams.ts', 'lib/testing/memory.ts'],
    ['lib/local/runner.ts', 'infra/index.ts'],
    ['lib/client/client.ts', 'lib/local/stack.ts'],
    ['lib/core/view.ts', 'examples/survey/app.ts'],
  ])('refuse %s importing %s', (from, to) => {
    expect(allowed(from, to)).toBe(false);
  });

  it.each([
    ['lib/store/port.ts', 'lib/engine/session.ts'],
    ['lib/store/port.ts', 'lib/types.ts'],
    ['lib/core/evaluator.ts', 'lib/store/port.ts'],
    ['lib/adapters/aws-lambda/streams.ts', 'lib/core/evaluator.ts'],
    ['lib/testing/index.ts', 'lib/local/runner.ts'],
    ['lib/cli/main.ts', 'lib/client/client.ts'],
    ['infra/index.ts', 'lib/adapters/aws-lambda/wiring.ts'],
  ])('let %s import %s', (from, to) => {
    expect(allowed(from, to)).toBe(true);
  });

  it('see static, dynamic and re-exported imports', () => {
    const source = [
      "import { a } from '../core/a.ts';",
      "export { b } from './b.ts';",
      "const c = await import('../local/c.ts');",
      "import { z } from 'zod';",
    ].join('\n');

    const specs = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);

    expect(specs).toEqual(['../core/a.ts', './b.ts', '../local/c.ts', 'zod']);
  });
});
