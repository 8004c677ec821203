/**
 * The deployment a pre-bundled function serves: the `Triggers` construct writes the workflows
 * into `app.json` beside the bundles of its asset, and each function reads it once, at cold
 * start.
 * May import: Node.js, base (errors), and types only (`import type`) from adapters.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NotAvailableError } from '../../../errors.ts';
import type { TriggersApp } from '../environment.ts';

/** The file beside the bundles that holds the deployment's workflows. */
export const DEPLOYMENT_FILE = 'app.json';

/**
 * The deployment's workflows and default workflow, from `app.json` beside the function's entry
 * (`entry` is the entry module's own `import.meta.url`: this module may end up in a chunk of
 * its own, in another folder).
 *
 * @example
 * export const handler = createEvaluatorHandler(runtimeFromEnv(deploymentApp(import.meta.url)));
 */
export function deploymentApp(entry: string): TriggersApp {
  const file = fileURLToPath(new URL(`./${DEPLOYMENT_FILE}`, entry));
  const app = JSON.parse(readFileSync(file, 'utf8')) as TriggersApp;
  if (!Array.isArray(app.workflows)) {
    throw new NotAvailableError(
      `${file} holds no workflows: the asset was not written by the Triggers construct`,
    );
  }
  return app;
}
