/**
 * The template mode's checks before anything starts: every function, mapping, rule, custom
 * resource and route of the template resolved against stand-in values for the resources the
 * emulators make, so that what the mode would refuse stops it with one line before the
 * emulators, the IAM endpoint or any function has started. Also loads the IAM simulator.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { LoadedStack } from './assembly.ts';
import { providerOf } from './custom-resources.ts';
import { functionSpec, releaseCode } from './function-spec.ts';
import { httpApiRoutes } from './http-api.ts';
import { createIamAuthorizer, policyResources, rolePolicies } from './iam.ts';
import { IntrinsicResolver, type PhysicalResource } from './intrinsics.ts';
import { mappingSpec } from './mappings.ts';
import type { CfnResource } from './model.ts';
import { defaultPhysical, isCustomResource, roleIdFromName } from './physical.ts';
import { physicalName, queuePhysical, tableArn } from './resources.ts';
import { ruleSpec } from './rules.ts';

/** Any attribute of a resource made only once the mode runs (a custom resource's `Data`). */
function anyAttribute(id: string): Readonly<Record<string, string>> {
  return new Proxy(
    {},
    { get: (_, name) => (typeof name === 'string' ? `${id}.${name}` : undefined) },
  );
}

/** What a table or queue will be, before the emulators make it. */
function standIn(stack: LoadedStack, run: string, id: string, r: CfnResource): PhysicalResource {
  if (r.Type === 'AWS::DynamoDB::Table') {
    const name = physicalName(stack.stackName, run, id, 255);
    const arn = tableArn(stack.env, name);
    return { ref: name, attributes: { Arn: arn, StreamArn: `${arn}/stream/preflight` } };
  }
  if (r.Type === 'AWS::SQS::Queue') {
    return queuePhysical(
      stack.env,
      physicalName(stack.stackName, run, id, 75),
      'http://127.0.0.1:0',
    );
  }
  if (isCustomResource(r)) return { ref: id, attributes: anyAttribute(id) };
  return defaultPhysical(stack, run, id, r);
}

/**
 * Checks the template as `startTemplateStack` will run it, with stand-ins for what the
 * emulators make; throws the `TemplateError` (one line, naming the logical id) the run would
 * throw later, and `IamSimulatorMissingError` without the IAM simulator.
 *
 * @example
 * await preflight(loadStack('cdk.out'), 'a1b2c3'); // before startEmulators
 */
export async function preflight(stack: LoadedStack, run: string): Promise<void> {
  const { template, env } = stack;
  const resources = Object.entries(template.Resources);
  const physical = new Map(resources.map(([id, r]) => [id, standIn(stack, run, id, r)]));
  const resolver = new IntrinsicResolver(template, env, stack.stackName, (id) => physical.get(id));
  const props = (id: string) =>
    (resolver.resolve(template.Resources[id]?.Properties ?? {}, id) ?? {}) as Record<
      string,
      unknown
    >;
  const byType = (type: string) => resources.filter(([, r]) => r.Type === type).map(([id]) => id);

  const roleIdByArn = new Map(
    byType('AWS::IAM::Role').map((id) => [physical.get(id)?.attributes.Arn ?? '', id]),
  );
  const functionOf = new Map<string, string>();
  for (const id of byType('AWS::Lambda::Function')) {
    const spec = functionSpec(stack, id, props(id), physical.get(id)?.ref ?? id, roleIdByArn);
    releaseCode(spec);
    functionOf.set(spec.functionName, id);
    functionOf.set(physical.get(id)?.attributes.Arn ?? '', id);
  }
  const lookup = (nameOrArn: string) => functionOf.get(nameOrArn);
  for (const id of byType('AWS::Lambda::EventSourceMapping')) mappingSpec(id, props(id), lookup);
  for (const id of byType('AWS::Events::Rule')) ruleSpec(id, props(id), id, lookup);
  for (const [id, r] of resources) {
    if (isCustomResource(r)) providerOf(id, props(id), lookup);
  }
  httpApiRoutes(
    Object.fromEntries(
      resources
        .filter(([, r]) => r.Type.startsWith('AWS::ApiGatewayV2::'))
        .map(([id, r]) => [id, { ...r, Properties: props(id) }]),
    ),
    stack.templateFile,
    lookup,
  );
  const policies = rolePolicies(policyResources(resources, props), env, {
    roleIdByName: (name) => roleIdFromName(physical, name),
    roleNameById: (id) => physical.get(id)?.ref,
  });
  await createIamAuthorizer({
    policiesByRole: policies.byRole,
    resourcePolicies: policies.resourcePolicies,
    env,
  });
}
