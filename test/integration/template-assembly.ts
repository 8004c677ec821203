/**
 * The example survey stack synthesized for the template-mode tests, and copies of it with one
 * thing changed (a policy statement, an environment variable, a mapping's filter).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CfnResource, CfnTemplate } from '../../lib/local/template/model.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The survey stack's name in the assembly. */
export const SURVEY_STACK = 'TriggersSurvey';

/**
 * Synthesizes the example CDK app (`examples/survey/cdk-app.ts`, cdk-nag included) into a new
 * folder, as `cdk synth` does; needs the package built (`dist/functions`).
 */
export async function synthSurvey(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'triggers-template-'));
  await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(root, 'examples/survey/cdk-app.ts')],
    { cwd: root, env: { ...process.env, CDK_OUTDIR: outdir }, maxBuffer: 64 * 1024 * 1024 },
  );
  return outdir;
}

/** A copy of an assembly whose template `change` edited in place. */
export function mutatedCopy(assembly: string, change: (template: CfnTemplate) => void): string {
  const copy = mkdtempSync(join(tmpdir(), 'triggers-template-mutant-'));
  cpSync(assembly, copy, { recursive: true });
  const file = join(copy, `${SURVEY_STACK}.template.json`);
  const template = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  change(template);
  writeFileSync(file, JSON.stringify(template, null, 1));
  return copy;
}

/** The logical id of the one resource matching `test`; throws when there is not exactly one. */
export function logicalIdOf(
  template: CfnTemplate,
  test: (id: string, r: CfnResource) => boolean,
): string {
  const found = Object.entries(template.Resources).filter(([id, r]) => test(id, r));
  if (found.length !== 1) throw new Error(`expected one matching resource, found ${found.length}`);
  return (found[0] as [string, CfnResource])[0];
}

/** The function whose handler is `handler` (`evaluator.handler`, `dispatcher.handler`). */
export function functionWithHandler(template: CfnTemplate, handler: string): string {
  return logicalIdOf(
    template,
    (_, r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Handler === handler,
  );
}

/** Reads an assembly's survey template. */
export function readTemplate(assembly: string): CfnTemplate {
  return JSON.parse(
    readFileSync(join(assembly, `${SURVEY_STACK}.template.json`), 'utf8'),
  ) as CfnTemplate;
}

/** Removes a folder made here. */
export function removeAssembly(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The properties of resource `id`; throws when the template has no such resource. */
export function propsOf(template: CfnTemplate, id: string): Record<string, unknown> {
  const props = template.Resources[id]?.Properties;
  if (props === undefined) throw new Error(`the template has no resource ${id}`);
  return props;
}
