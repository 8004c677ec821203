/**
 * The deployed workflow versions: a custom resource per workflow that stores its definition in
 * the table at deploy time, before the evaluator is updated.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import { workflowVersionPutItem } from '../lib/store/layout.ts';
import { workflowVersion } from '../lib/store/workflow-version.ts';
import type { Workflow } from '../lib/types.ts';
import type { Deployment } from './deployment.ts';
import { TABLE_ACTIONS } from './permissions.ts';
import type { WorkflowVersionResources } from './props.ts';

/**
 * Stores each workflow's deployed version in the table: a custom resource per workflow whose
 * create and update put the definition unless it is there, and whose delete does nothing, so
 * every version ever deployed stays. The evaluator, the one function that pins sessions to a
 * version, is updated only after its versions are stored, so whichever code a function runs
 * during a rollout (or after a rollback), the versions sessions are pinned to are in the table.
 *
 * @example
 * triggers.workflowVersions.push(...storeWorkflowVersions(deployment, evaluator, workflows));
 */
export function storeWorkflowVersions(
  deployment: Deployment,
  evaluator: lambda.Function,
  workflows: readonly Workflow[],
): WorkflowVersionResources[] {
  const { table, encryptionKey } = deployment;
  const policy = cr.AwsCustomResourcePolicy.fromStatements([
    new iam.PolicyStatement({
      actions: [...TABLE_ACTIONS.workflowVersions],
      resources: [table.tableArn],
    }),
  ]);
  return workflows.map((workflow) => {
    const version = workflowVersion(workflow);
    const put: cr.AwsSdkCall = {
      service: 'DynamoDB',
      action: 'PutItem',
      parameters: workflowVersionPutItem(table.tableName, workflow),
      physicalResourceId: cr.PhysicalResourceId.of(`${workflow.name}@${version}`),
      ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
    };
    const resource = new cr.AwsCustomResource(
      deployment.scope,
      `WorkflowVersion-${workflow.name}`,
      {
        resourceType: 'Custom::TriggersWorkflowVersion',
        onCreate: put,
        onUpdate: put,
        policy,
        installLatestAwsSdk: false,
      },
    );
    encryptionKey?.grantEncryptDecrypt(resource);
    evaluator.node.addDependency(resource);
    return { workflow: workflow.name, version, resource };
  });
}
