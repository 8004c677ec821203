/**
 * Where this package lives on disk, from its sources (a checkout) or its build (`dist/` in
 * `node_modules/serverless-triggers`), and its `package.json` as read there.
 * May import: base (errors), Node.js.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotAvailableError } from './errors.ts';

/** The package's name, as published. */
export const PACKAGE_NAME = 'serverless-triggers';

/** What the package's `package.json` says, as far as the package itself reads it. */
export interface PackageManifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

let root: { dir: string; manifest: PackageManifest } | undefined;

function find(): { dir: string; manifest: PackageManifest } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as Partial<PackageManifest>;
      if (manifest.name === PACKAGE_NAME) {
        return {
          dir,
          manifest: { ...manifest, name: PACKAGE_NAME, version: manifest.version ?? '0.0.0' },
        };
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new NotAvailableError(
        `${PACKAGE_NAME}: no package.json of its own above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}

/**
 * The package's root folder: the folder of the nearest `package.json` named
 * `serverless-triggers` above this module, whether it runs from the sources or from `dist/`.
 * Throws `NotAvailableError` when there is none (a broken install).
 *
 * @example
 * join(packageRoot(), 'dist', 'functions'); // the pre-bundled Lambda functions
 */
export function packageRoot(): string {
  root ??= find();
  return root.dir;
}

/**
 * The package's `package.json`, read once.
 *
 * @example
 * packageManifest().version; // '0.1.0'
 */
export function packageManifest(): PackageManifest {
  root ??= find();
  return root.manifest;
}
