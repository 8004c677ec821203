/**
 * Timers in the synthesized template: with timers, the timer function, its queues and event
 * source, and the evaluator's grant; without, none of it.
 * May import: the construct (infra/), anything under lib/.
 *
 * @module
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { Triggers } from '../../infra/index.ts';
import { TIMER_QUEUE } from '../../lib/engine/workflow.ts';
import type { Workflow } from '../../lib/types.ts';
import { inlineFunction, unbundledApp } from './stacks.ts';

const reminder: Workflow = {
  name: 'reminder',
  tasks: { t_remind: { after: ['noAnswer'], run: 'h' } },
  timers: { noAnswer: { after: '24h', from: 'asked' } },
};
const plain: Workflow = { name: 'plain', tasks: { t_a: { after: ['a'], run: 'h' } } };

function synth(workflows: Workflow[]) {
  const app = unbundledApp();
  const stack = new Stack(app, 'Timers');
  const h = inlineFunction(stack);
  const triggers = new Triggers(stack, 'Triggers', { workflows, handlers: { h } });
  return { triggers, stack, template: Template.fromStack(stack) };
}

/** The environment variable `name` of a function, as the template has it. */
function environmentOf(template: Template, logicalId: string, name: string): unknown {
  const fn = template.toJSON().Resources[logicalId] as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  return fn.Properties.Environment.Variables[name];
}

describe('timers in the template', () => {
  it('adds the timer function with its own queue, dead-letter queue and event source', () => {
    const { triggers, stack, template } = synth([reminder, plain]);

    expect(triggers.timers).toBeDefined();
    const fnId = stack.getLogicalId(triggers.timers?.fn.node.defaultChild as lambda.CfnFunction);
    const queueId = stack.getLogicalId(triggers.timers?.queue.node.defaultChild as never);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({
        deadLetterTargetArn: {
          'Fn::GetAtt': [
            stack.getLogicalId(triggers.timers?.deadLetterQueue.node.defaultChild as never),
            'Arn',
          ],
        },
      }),
    });
    // The function sends long delays on to its own queue, under the timers queue's name.
    expect(JSON.stringify(environmentOf(template, fnId, 'TRIGGERS_QUEUE_URLS'))).toContain(
      TIMER_QUEUE,
    );
  });

  it('lets the evaluator send timers to the timers queue', () => {
    const { stack, triggers, template } = synth([reminder]);

    const evaluatorId = stack.getLogicalId(triggers.evaluator.node.defaultChild as never);
    const urls = JSON.stringify(environmentOf(template, evaluatorId, 'TRIGGERS_QUEUE_URLS'));
    expect(urls).toContain(TIMER_QUEUE);
    expect(urls).toContain(stack.getLogicalId(triggers.timers?.queue.node.defaultChild as never));
  });

  it('adds nothing for timers when no workflow has one', () => {
    const { triggers, template } = synth([plain]);

    expect(triggers.timers).toBeUndefined();
    const descriptions = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (r) => (r as { Properties: { Description?: string } }).Properties.Description ?? '',
    );
    expect(descriptions.some((d) => d.includes('timers'))).toBe(false);
  });
});
