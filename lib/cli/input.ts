/**
 * JSON arguments of the CLI: `--kwargs '{"a":1}'` or `--kwargs @file.json`.
 * May import: anything under lib/ (cli), Node.js.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from './errors.ts';

/**
 * Parses a JSON object given inline or as `@path` (read relative to `cwd`).
 *
 * @example
 * jsonObjectArg('--kwargs', '{"answers":3}'); // { answers: 3 }
 */
export function jsonObjectArg(
  option: string,
  value: string,
  cwd: string = process.cwd(),
): Record<string, unknown> {
  let text = value;
  let source = 'value';
  if (value.startsWith('@')) {
    const path = resolve(cwd, value.slice(1));
    source = `file '${value.slice(1)}'`;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw usageError(`${option}: cannot read ${source} (${reason})`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw usageError(`${option}: ${source} is not valid JSON (${reason})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usageError(`${option}: ${source} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
