/**
 * The stored workflow versions: a custom resource per workflow that puts the version item and
 * removes nothing, with PutItem as its only permission, stored before the evaluator is updated.
 * May import: the construct (infra/), anything under lib/.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { Triggers } from '../../infra/index.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { defineWorkflow } from '../../lib/engine/workflow.ts';
import { workflowVersionPutItem } from '../../lib/store/layout.ts';
import { workflowVersion } from '../../lib/store/workflow-version.ts';
import type { Workflow } from '../../lib/types.ts';
import { assetDirOf, inlineFunction, unbundledApp } from './stacks.ts';

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
};
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const orders = defineWorkflow('orders', {
  t_pack: { after: ['paid'], run: 'h' },
  t_ship: { after: ['t_pack', 'addressed'], run: 'h', unless: undefined, lane: 'fast' },
});
const returns = defineWorkflow('returns', { t_refund: { after: ['received'], run: 'h' } });

/** A stack with the construct; assets are not bundled: the template is all these tests read. */
function synth(workflows: Workflow[], opts: { encryptionKey?: boolean } = {}) {
  const stack = new Stack(unbundledApp(), 'Versions');
  const h = inlineFunction(stack);
  const key = opts.encryptionKey
    ? new kms.Key(stack, 'Key', { enableKeyRotation: true })
    : undefined;
  const triggers = new Triggers(stack, 'Triggers', {
    workflows,
    handlers: { h },
    alarms: false,
    ...(key ? { encryptionKey: key } : {}),
  });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);
  return { stack, triggers, template, resources, idOf, key };
}

/** A `Fn::Join` of strings and `Ref`s as text, each `Ref` written as `<Ref:LogicalId>`. */
function joined(value: unknown): string {
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return value as string;
  return join[1]
    .map((part) =>
      typeof part === 'string' ? part : `<Ref:${(part as { Ref: string }).Ref ?? '?'}>`,
    )
    .join(join[0]);
}

describe('the deployed workflow versions', () => {
  it('are one custom resource per workflow, each putting its version item unless it is there', () => {
    const { triggers, resources, idOf } = synth([orders, returns]);
    const tableRef = `<Ref:${idOf(triggers.table)}>`;

    const found = Object.values(resources).filter(
      (r) => r.Type === 'Custom::TriggersWorkflowVersion',
    );

    expect(found).toHaveLength(2);
    expect(triggers.workflowVersions.map((v) => [v.workflow, v.version])).toEqual([
      ['orders', workflowVersion(orders)],
      ['returns', workflowVersion(returns)],
    ]);
    for (const wf of [orders, returns]) {
      const resource = found.find((r) =>
        joined(r.Properties.Create).includes(`"V#${workflowVersion(wf)}"`),
      ) as Resource;
      const call = {
        service: 'DynamoDB',
        action: 'PutItem',
        parameters: workflowVersionPutItem(tableRef, wf),
        physicalResourceId: { id: `${wf.name}@${workflowVersion(wf)}` },
        ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
      };
      expect(JSON.parse(joined(resource.Properties.Create))).toEqual(call);
      expect(JSON.parse(joined(resource.Properties.Update))).toEqual(call);
      // Nothing on delete: a version stays in the table after it is replaced or the stack goes.
      expect(resource.Properties.Delete).toBeUndefined();
      expect(resource.Properties.InstallLatestAwsSdk).toBe(false);
    }
  });

  it('hold the version the evaluator computes from the definition it is bundled with', () => {
    const { stack, triggers, resources } = synth([orders]);
    const inlined = JSON.parse(
      readFileSync(join(assetDirOf(stack, triggers.evaluator), 'app.json'), 'utf8'),
    ) as { workflows: Workflow[] };

    const pinned = new WorkflowRegistry(inlined.workflows).version('orders');
    const stored = Object.values(resources).find(
      (r) => r.Type === 'Custom::TriggersWorkflowVersion',
    ) as Resource;

    expect(pinned).toBe(workflowVersion(orders));
    expect(joined(stored.Properties.Create)).toContain(`"version":{"S":"${pinned}"}`);
  });

  it('may only PutItem on the session table', () => {
    const { triggers, resources, idOf } = synth([orders, returns]);

    for (const { resource } of triggers.workflowVersions) {
      const policy = resource.node.findChild('CustomResourcePolicy') as iam.Policy;
      const doc = resources[idOf(policy)]?.Properties.PolicyDocument as { Statement: Statement[] };
      expect(doc.Statement).toEqual([
        {
          Action: 'dynamodb:PutItem',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [idOf(triggers.table), 'Arn'] },
        },
      ]);
    }
  });

  it('may use the customer managed key of the table when one is given', () => {
    const { stack, triggers, resources, idOf, key } = synth([orders], { encryptionKey: true });
    const [stored] = triggers.workflowVersions;
    if (!stored) throw new Error('no workflow version resource');
    const role = (stored.resource.grantPrincipal as iam.IRole).node.defaultChild as iam.CfnRole;
    const roleId = stack.getLogicalId(role);

    const statements = Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: roleId }]),
      )
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);

    const onKey = statements.filter(
      (st) =>
        JSON.stringify(st.Resource) ===
        JSON.stringify({ 'Fn::GetAtt': [idOf(key as kms.Key), 'Arn'] }),
    );
    expect(onKey.flatMap((st) => [st.Action].flat())).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*']),
    );
  });

  it('are stored before the evaluator is updated', () => {
    const { triggers, resources, idOf } = synth([orders, returns]);

    const evaluator = resources[idOf(triggers.evaluator)] as Resource;

    for (const { resource } of triggers.workflowVersions) {
      expect(evaluator.DependsOn).toContain(idOf(resource));
    }
  });

  it('update the same resource with the new version when the workflow changes', () => {
    const changed = defineWorkflow('orders', {
      t_pack: { after: ['paid'], run: 'h' },
      t_ship: { after: ['t_pack', 'addressed', 'approved'], run: 'h' },
    });

    const before = synth([orders]);
    const after = synth([changed]);
    const [was] = before.triggers.workflowVersions;
    const [now] = after.triggers.workflowVersions;

    expect(before.idOf(was?.resource as never)).toBe(after.idOf(now?.resource as never));
    expect(now?.version).toBe(workflowVersion(changed));
    expect(now?.version).not.toBe(was?.version);
    expect(
      joined(after.resources[after.idOf(now?.resource as never)]?.Properties.Create),
    ).toContain(`"V#${workflowVersion(changed)}"`);
  });
});
