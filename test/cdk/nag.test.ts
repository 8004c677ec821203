/**
 * cdk-nag's AwsSolutions pack over the example stack: no finding left unacknowledged.
 * May import: the example stack, aws-cdk-lib, cdk-nag.
 *
 * @module
 */
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SurveyStack } from '../../examples/survey/stack.ts';
import { nagFindings } from './stacks.ts';

// cdk-nag 3 is a policy-validation plugin: it reports violations instead of annotations, so the
// test runs the pack over the synthesized stack with `validateScope`.
let stack: SurveyStack;

beforeAll(() => {
  stack = new SurveyStack(new App(), 'TriggersSurvey');
  Template.fromStack(stack);
}, 60_000);

const acknowledgments = (): Array<{ path: string; id: string; reason: string }> => {
  const found: Array<{ path: string; id: string; reason: string }> = [];
  const visit = (node: typeof stack.node): void => {
    for (const entry of node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ path: node.path, id: id.replace(/^\w+::/, ''), reason });
      }
    }
    for (const child of node.children) visit(child.node);
  };
  visit(stack.node);
  return found;
};

describe('AwsSolutionsChecks on the example stack', () => {
  it('finds no unacknowledged error or warning', () => {
    expect(nagFindings(stack)).toEqual([]);
  });

  it('acknowledges each finding with a written reason', () => {
    const acks = acknowledgments();
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id).toMatch(/^AwsSolutions-/);
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(60);
    }
  });

  it('acknowledges no rule for the whole stack that only some resources break', () => {
    const stackWide = acknowledgments()
      .filter((a) => a.path === stack.node.path)
      .map((a) => a.id)
      .sort();
    expect(stackWide).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-L1',
    ]);
  });
});
