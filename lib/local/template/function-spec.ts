/**
 * A template's `AWS::Lambda::Function`, resolved, as a local execution environment runs it: its
 * code folder, handler, runtime, timeout, memory, environment and role.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
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
