/**
 * Where this package lives on disk, from its sources (a checkout) or from its build (`dist/`
 * in `node_modules/serverless-triggers`): the folder of the nearest `package.json` named
 * `serverless-triggers` above this module. Imports only Node.js.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name, as published. */
export const PACKAGE_NAME = 'serverless-triggers';

let root: { dir: string; version: string } | undefined;

function find(): { dir: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME) return { dir, version: pkg.version ?? '0.0.0' };
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `${PACKAGE_NAME}: no package.json of its own above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}

/**
 * The package's root folder (the one holding its `package.json`).
 *
 * @example
 * join(packageRoot(), 'dist', 'functions'); // the pre-bundled Lambda functions
 */
export function packageRoot(): string {
  root ??= find();
  return root.dir;
}

/**
 * The package's version, from its `package.json`.
 *
 * @example
 * packageVersion(); // '0.1.0'
 */
export function packageVersion(): string {
  root ??= find();
  return root.version;
}
