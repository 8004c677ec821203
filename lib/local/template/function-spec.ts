/**
 * A template's `AWS::Lambda::Function`, resolved, as a local execution environment runs it: its
 * code folder, handler, runtime, timeout, memory, environment and role.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { TemplateError } from '../../errors.ts';
import { functionCodeDir, type LoadedStack } from './assembly.ts';
import { LAMBDA_RESERVED_VARIABLES } from './function-host.ts';
import type { CfnResource, FunctionSpec } from './model.ts';

const RESERVED: ReadonlySet<string> = new Set(LAMBDA_RESERVED_VARIABLES);

function stringValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A function's resolved properties as a local execution environment takes them; throws
 * `TemplateError` naming the function for a runtime, handler, code or variable Lambda or the
 * mode would refuse.
 *
 * @example
 * const spec = functionSpec(stack, 'TriggersEvaluator9BD8951B', props, 'Stack-Evaluator', roles);
 */
export function functionSpec(
  stack: LoadedStack,
  id: string,
  props: Record<string, unknown>,
  functionName: string,
  roleIdByArn: ReadonlyMap<string, string>,
): FunctionSpec {
  const runtime = String(props.Runtime ?? '');
  if (!runtime.startsWith('nodejs')) {
    throw new TemplateError(
      id,
      `runtime '${runtime || 'none'}' is not emulated (Node.js runtimes are)`,
    );
  }
  if (props.PackageType === 'Image')
    throw new TemplateError(id, 'container image functions are not emulated');
  const variables =
    (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(variables)) {
    if (RESERVED.has(k))
      throw new TemplateError(id, `environment variable ${k} is reserved by Lambda`);
    environment[k] = stringValue(v);
  }
  const codeDir = functionCodeDir(stack, id, stack.template.Resources[id] as CfnResource);
  const handler = String(props.Handler ?? '');
  if (!/^[^.]+(\.[^.]+)+$/.test(handler))
    throw new TemplateError(id, `Handler '${handler}' is not file.export`);
  return {
    logicalId: id,
    functionName,
    codeDir,
    handler,
    runtime,
    timeoutSeconds: Number(props.Timeout ?? 3),
    memoryMb: Number(props.MemorySize ?? 128),
    environment,
    roleLogicalId: roleIdByArn.get(String(props.Role ?? '')),
  };
}

/**
 * Removes the folder a function's inline (`ZipFile`) code was written to; leaves asset folders
 * of the assembly alone.
 *
 * @example
 * releaseCode(spec); // when the mode stops
 */
export function releaseCode(spec: FunctionSpec): void {
  if (dirname(spec.codeDir) === tmpdir() && basename(spec.codeDir).startsWith('triggers-inline-')) {
    rmSync(spec.codeDir, { recursive: true, force: true });
  }
}

/**
 * The folders functions run from: a copy of each code folder outside the project, as Lambda
 * unzips a function's code into `/var/task`. Run in place, an asset inside a project (`cdk.out`
 * under a `"type": "module"` package) would be read as that package's ES modules, and would find
 * the project's `node_modules` above it, hiding a bundle that misses a module on AWS.
 *
 * @example
 * const roots = new TaskRoots();
 * const spec2 = { ...spec, codeDir: roots.of(spec.codeDir) };
 * roots.release(); // when the mode stops
 */
export class TaskRoots {
  private readonly copies = new Map<string, string>();

  /** The copy of `codeDir` to run from, made once per folder. */
  of(codeDir: string): string {
    const made = this.copies.get(codeDir);
    if (made !== undefined) return made;
    const root = mkdtempSync(join(tmpdir(), 'triggers-task-'));
    // Above the task folder, as above /var/task: no package type, CommonJS by default.
    writeFileSync(join(root, 'package.json'), '{}\n');
    const task = join(root, 'task');
    cpSync(codeDir, task, { recursive: true });
    this.copies.set(codeDir, task);
    return task;
  }

  /** Removes every copy. */
  release(): void {
    for (const task of this.copies.values())
      rmSync(dirname(task), { recursive: true, force: true });
    this.copies.clear();
  }
}
