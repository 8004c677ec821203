/**
 * The template's event source mappings and EventBridge rules, read without emulators: what
 * `mappingSpec` makes of a mapping's resolved properties (the shapes synth writes for the
 * `Triggers` construct's stream and queue sources), and how `TemplateRules` delivers the events
 * put on a bus and the scheduled events it is asked to run. Refusals are `TemplateError`s
 * naming the mapping or rule.
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../lib/core/log.ts';
import { NotFoundError, TemplateError } from '../../lib/errors.ts';
import { mappingSpec } from '../../lib/local/template/mappings.ts';
import type { LocalEnv } from '../../lib/local/template/model.ts';
import { ruleSpec, TemplateRules } from '../../lib/local/template/rules.ts';
import { thrownBy } from './fixtures.ts';

const env: LocalEnv = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' };
const ARN = `arn:aws:%s:${env.region}:${env.accountId}`;
const arn = (service: string, rest: string) => `${ARN.replace('%s', service)}:${rest}`;

const TABLE_ARN = arn('dynamodb', 'table/TriggersSurvey-a1b2c3-TriggersTableE79C50E7');
const STREAM_ARN = `${TABLE_ARN}/stream/2024-01-01T00:00:00.000`;
const FAILURES_ARN = arn('sqs', 'TriggersSurvey-a1b2c3-TriggersStreamFailures6A669BFA');
const TASK_QUEUE_ARN = arn('sqs', 'TriggersSurvey-a1b2c3-TriggersTaskQueue381CEB1D2');

/** The functions of the template by name and by ARN, as the orchestrator maps them. */
const FUNCTIONS = new Map<string, string>([
  ['TriggersSurvey-a1b2c3-TriggersEvaluator9BD8951B', 'TriggersEvaluator9BD8951B'],
  ['TriggersSurvey-a1b2c3-Taskscore9CF43B02', 'Taskscore9CF43B02'],
  [arn('lambda', 'function:TriggersSurvey-a1b2c3-StaleSweep1A2B3C4D'), 'StaleSweep1A2B3C4D'],
  [arn('lambda', 'function:TriggersSurvey-a1b2c3-Notifier5E6F7A8B'), 'Notifier5E6F7A8B'],
]);
const functionOf = (nameOrArn: string) => FUNCTIONS.get(nameOrArn);

const EVT_PATTERN = {
  eventName: ['INSERT'],
  dynamodb: { Keys: { sk: { S: [{ prefix: 'EVT#' }] } } },
};

/** The evaluator's stream mapping, resolved, as synth writes it for a `Triggers` construct. */
const streamMapping = (): Record<string, unknown> => ({
  BatchSize: 100,
  BisectBatchOnFunctionError: true,
  DestinationConfig: { OnFailure: { Destination: FAILURES_ARN } },
  EventSourceArn: STREAM_ARN,
  FilterCriteria: { Filters: [{ Pattern: JSON.stringify(EVT_PATTERN) }] },
  FunctionName: 'TriggersSurvey-a1b2c3-TriggersEvaluator9BD8951B',
  FunctionResponseTypes: ['ReportBatchItemFailures'],
  MaximumBatchingWindowInSeconds: 0,
  MaximumRetryAttempts: 10,
  ParallelizationFactor: 10,
  StartingPosition: 'TRIM_HORIZON',
});

/** A task handler's queue mapping, resolved. */
const queueMapping = (): Record<string, unknown> => ({
  BatchSize: 10,
  EventSourceArn: TASK_QUEUE_ARN,
  FunctionName: 'TriggersSurvey-a1b2c3-Taskscore9CF43B02',
  FunctionResponseTypes: ['ReportBatchItemFailures'],
  MaximumBatchingWindowInSeconds: 0,
});

const MAPPING = 'TriggersEvaluatorDynamoDBEventSourceTriggersSurveyTriggersTable90B9F57773DB4B80';

/** The `TemplateError` a call throws, checked to name `where`. */
function refusal(where: string, fn: () => unknown): TemplateError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(TemplateError);
  expect((err as TemplateError).where).toBe(where);
  return err as TemplateError;
}

describe('mappingSpec', () => {
  it("reads a Triggers construct's stream mapping: filters, batching, retries, destination", () => {
    expect(mappingSpec(MAPPING, streamMapping(), functionOf)).toEqual({
      logicalId: MAPPING,
      functionLogicalId: 'TriggersEvaluator9BD8951B',
      kind: 'stream',
      sourceArn: STREAM_ARN,
      stream: {
        filters: [EVT_PATTERN],
        batchSize: 100,
        maxBatchingWindowSeconds: 0,
        startingPosition: 'TRIM_HORIZON',
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        parallelizationFactor: 10,
      },
      onFailureArn: FAILURES_ARN,
      enabled: true,
      pollers: 2,
    });
  });

  it("reads a task handler's SQS mapping", () => {
    const spec = mappingSpec('TaskscoreSqsEventSource', queueMapping(), functionOf);
    expect(spec.kind).toBe('queue');
    expect(spec.functionLogicalId).toBe('Taskscore9CF43B02');
    expect(spec.sourceArn).toBe(TASK_QUEUE_ARN);
    expect(spec.stream.batchSize).toBe(10);
    expect(spec.stream.reportBatchItemFailures).toBe(true);
    expect(spec.stream.filters).toEqual([]);
    expect(spec.onFailureArn).toBeUndefined();
  });

  it("takes Lambda's defaults for what the mapping leaves out", () => {
    const bare = (source: string) => ({
      FunctionName: 'TriggersSurvey-a1b2c3-Taskscore9CF43B02',
      EventSourceArn: source,
    });
    const stream = mappingSpec('S', bare(STREAM_ARN), functionOf);
    expect(stream.stream.batchSize).toBe(100);
    expect(stream.stream.startingPosition).toBe('TRIM_HORIZON');
    expect(stream.stream.bisectBatchOnError).toBe(false);
    expect(stream.stream.reportBatchItemFailures).toBe(false);
    expect(stream.stream.parallelizationFactor).toBe(1);
    // -1 (the default) retries until the record expires: many retries, not none.
    expect(stream.stream.retryAttempts).toBeGreaterThanOrEqual(10_000);
    expect(
      mappingSpec('S', { ...bare(STREAM_ARN), MaximumRetryAttempts: -1 }, functionOf).stream
        .retryAttempts,
    ).toBeGreaterThanOrEqual(10_000);
    expect(
      mappingSpec('S', { ...bare(STREAM_ARN), MaximumRetryAttempts: 0 }, functionOf).stream
        .retryAttempts,
    ).toBe(0);
    expect(mappingSpec('Q', bare(TASK_QUEUE_ARN), functionOf).stream.batchSize).toBe(10);
    expect(stream.enabled).toBe(true);
  });

  it('reads Enabled, StartingPosition LATEST and the SQS pollers (at most 5)', () => {
    const spec = mappingSpec(
      'S',
      { ...streamMapping(), Enabled: false, StartingPosition: 'LATEST' },
      functionOf,
    );
    expect(spec.enabled).toBe(false);
    expect(spec.stream.startingPosition).toBe('LATEST');
    const scaled = (n: number) =>
      mappingSpec('Q', { ...queueMapping(), ScalingConfig: { MaximumConcurrency: n } }, functionOf)
        .pollers;
    expect(scaled(3)).toBe(3);
    expect(scaled(1000)).toBe(5);
  });

  it('parses every filter of the FilterCriteria', () => {
    const scheduled = {
      eventName: ['MODIFY'],
      dynamodb: {
        NewImage: { status: { S: ['scheduled'] } },
        OldImage: { status: { S: [{ 'anything-but': ['scheduled'] }] } },
      },
    };
    const spec = mappingSpec(
      MAPPING,
      {
        ...streamMapping(),
        FilterCriteria: {
          Filters: [
            { Pattern: JSON.stringify(EVT_PATTERN) },
            { Pattern: JSON.stringify(scheduled) },
          ],
        },
      },
      functionOf,
    );
    expect(spec.stream.filters).toEqual([EVT_PATTERN, scheduled]);
  });

  it.each([
    ['numeric', { dynamodb: { NewImage: { n: { N: [{ numeric: ['>', 0] }] } } } }, /numeric/],
    ['suffix', { dynamodb: { Keys: { sk: { S: [{ suffix: '#1' }] } } } }, /suffix/],
  ])('refuses a filter with the %s operator, naming the mapping', (_op, pattern, shows) => {
    const err = refusal(MAPPING, () =>
      mappingSpec(
        MAPPING,
        { ...streamMapping(), FilterCriteria: { Filters: [{ Pattern: JSON.stringify(pattern) }] } },
        functionOf,
      ),
    );
    expect(err.message).toMatch(shows);
    expect(err.message).toMatch(/is not emulated$/);
  });

  it('refuses a filter pattern that is not JSON', () => {
    const err = refusal(MAPPING, () =>
      mappingSpec(
        MAPPING,
        { ...streamMapping(), FilterCriteria: { Filters: [{ Pattern: '{eventName:' }] } },
        functionOf,
      ),
    );
    expect(err.message).toMatch(/filter pattern \{eventName: is not JSON/);
  });

  it('refuses FilterCriteria on an SQS source, which the local queue poller would not apply', () => {
    const err = refusal('Q', () =>
      mappingSpec(
        'Q',
        { ...queueMapping(), FilterCriteria: { Filters: [{ Pattern: '{"body":{"a":["b"]}}' }] } },
        functionOf,
      ),
    );
    expect(err.message).toBe('Q: FilterCriteria on an SQS source are not emulated');
  });

  it('refuses a property it does not know', () => {
    const err = refusal(MAPPING, () =>
      mappingSpec(MAPPING, { ...streamMapping(), TumblingWindowInSeconds: 60 }, functionOf),
    );
    expect(err.message).toBe(
      `${MAPPING}: mapping property TumblingWindowInSeconds is not emulated`,
    );
  });

  it('refuses a Kinesis source', () => {
    const kinesis = arn('kinesis', 'stream/clicks');
    const err = refusal('Clicks', () =>
      mappingSpec('Clicks', { ...streamMapping(), EventSourceArn: kinesis }, functionOf),
    );
    expect(err.message).toBe(
      `Clicks: event source ${kinesis} is not emulated (DynamoDB streams and SQS queues are)`,
    );
  });

  it('refuses an SNS on-failure destination', () => {
    const topic = arn('sns', 'stream-failures');
    const err = refusal(MAPPING, () =>
      mappingSpec(
        MAPPING,
        { ...streamMapping(), DestinationConfig: { OnFailure: { Destination: topic } } },
        functionOf,
      ),
    );
    expect(err.message).toMatch(`on-failure destination ${topic} is not emulated`);
  });

  it('refuses a FunctionName that is not a function of the template', () => {
    const err = refusal(MAPPING, () =>
      mappingSpec(MAPPING, { ...streamMapping(), FunctionName: 'elsewhere' }, functionOf),
    );
    expect(err.message).toMatch(/FunctionName 'elsewhere' is not a function of the template/);
  });
});

/** Rules with a recording invoke: what each function was invoked with, in order. */
function rulesOf(specs: ReturnType<typeof ruleSpec>[], invoke?: () => Promise<unknown>) {
  const invoked: Array<[string, unknown]> = [];
  const logs: LogEntry[] = [];
  const rules = new TemplateRules(specs, {
    env,
    invoke: (id, event) => {
      invoked.push([id, event]);
      return invoke?.() ?? Promise.resolve(undefined);
    },
    log: (entry) => logs.push(entry),
  });
  return { rules, invoked, logs };
}

const NOTIFIER_ARN = arn('lambda', 'function:TriggersSurvey-a1b2c3-Notifier5E6F7A8B');
const SWEEP_ARN = arn('lambda', 'function:TriggersSurvey-a1b2c3-StaleSweep1A2B3C4D');
const STEP_DONE_RULE = arn('events', 'rule/TriggersSurvey-a1b2c3-StepDone');

const stepDone = (props: Record<string, unknown> = {}) =>
  ruleSpec(
    'StepDoneRule0A1B2C3D',
    {
      EventPattern: { source: ['app.surveys'], 'detail-type': ['Step Done'] },
      State: 'ENABLED',
      Targets: [{ Arn: NOTIFIER_ARN, Id: 'Target0' }],
      ...props,
    },
    STEP_DONE_RULE,
    functionOf,
  );

const staleSweep = (props: Record<string, unknown> = {}) =>
  ruleSpec(
    'StaleSweepSchedule9F8E7D6C',
    {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Targets: [{ Arn: SWEEP_ARN, Id: 'Target0' }],
      ...props,
    },
    arn('events', 'rule/TriggersSurvey-a1b2c3-StaleSweep'),
    functionOf,
  );

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('ruleSpec and TemplateRules', () => {
  it("invokes a pattern rule's target with the event of a matching PutEvents entry", () => {
    const { rules, invoked } = rulesOf([stepDone()]);
    const answer = rules.putEvents([
      { Source: 'app.surveys', DetailType: 'Step Done', Detail: '{"session":"s1"}' },
    ]);
    expect(answer.FailedEntryCount).toBe(0);
    expect(invoked).toHaveLength(1);
    const [[target, event]] = invoked as [[string, Record<string, unknown>]];
    expect(target).toBe('Notifier5E6F7A8B');
    expect(event).toMatchObject({
      version: '0',
      id: answer.Entries[0]?.EventId,
      'detail-type': 'Step Done',
      source: 'app.surveys',
      account: '123456789012',
      region: 'eu-west-1',
      resources: [],
      detail: { session: 's1' },
    });
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('does not invoke it for an entry that does not match, or one put on another bus', () => {
    const { rules, invoked } = rulesOf([stepDone()]);
    rules.putEvents([
      { Source: 'app.surveys', DetailType: 'Step Started', Detail: '{}' },
      { Source: 'app.billing', DetailType: 'Step Done', Detail: '{}' },
      { Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}', EventBusName: 'orders' },
    ]);
    expect(invoked).toEqual([]);
  });

  it('delivers on a custom bus, named by name or ARN, and not from the default bus', () => {
    const { rules, invoked } = rulesOf([stepDone({ EventBusName: 'orders' })]);
    rules.putEvents([{ Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}' }]);
    expect(invoked).toEqual([]);
    rules.putEvents([
      { Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}', EventBusName: 'orders' },
      {
        Source: 'app.surveys',
        DetailType: 'Step Done',
        Detail: '{}',
        EventBusName: arn('events', 'event-bus/orders'),
      },
    ]);
    expect(invoked).toHaveLength(2);
  });

  it('does not deliver to a disabled rule', () => {
    const { rules, invoked } = rulesOf([stepDone({ State: 'DISABLED' })]);
    rules.putEvents([{ Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}' }]);
    expect(invoked).toEqual([]);
  });

  it('fails an entry whose Detail is not a JSON object, alone', () => {
    const { rules, invoked } = rulesOf([stepDone()]);
    const answer = rules.putEvents([
      { Source: 'app.surveys', DetailType: 'Step Done', Detail: '{not json' },
      { Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}' },
    ]);
    expect(answer.FailedEntryCount).toBe(1);
    expect(answer.Entries[0]).toEqual({
      ErrorCode: 'MalformedDetail',
      ErrorMessage: 'Detail is malformed.',
    });
    expect(answer.Entries[1]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(invoked).toHaveLength(1);
  });

  it('runs a scheduled rule when asked, with the Scheduled Event EventBridge sends', () => {
    const sweep = staleSweep();
    const { rules, invoked } = rulesOf([stepDone(), sweep]);
    rules.putEvents([{ Source: 'aws.events', DetailType: 'Scheduled Event', Detail: '{}' }]);
    expect(invoked).toEqual([]);
    rules.runSchedule('StaleSweepSchedule9F8E7D6C');
    expect(invoked).toHaveLength(1);
    const [[target, event]] = invoked as [[string, Record<string, unknown>]];
    expect(target).toBe('StaleSweep1A2B3C4D');
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      region: 'eu-west-1',
      resources: [sweep.arn],
      detail: {},
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rules.notice()).toEqual([
      expect.stringContaining('StaleSweepSchedule9F8E7D6C (rate(15 minutes))'),
    ]);
  });

  it('refuses to run a rule that is not a scheduled rule of the template', () => {
    const { rules } = rulesOf([stepDone(), staleSweep()]);
    for (const name of ['NoSuchRule', 'StepDoneRule0A1B2C3D']) {
      const err = thrownBy(() => rules.runSchedule(name));
      expect(err).toBeInstanceOf(NotFoundError);
      expect(err.message).toBe(
        `'${name}' is not a scheduled rule of the template (StaleSweepSchedule9F8E7D6C)`,
      );
    }
  });

  it("passes a target's Input as the event", () => {
    const sweep = staleSweep({
      Targets: [{ Arn: SWEEP_ARN, Id: 'Target0', Input: '{"job":"stale-sessions","days":7}' }],
    });
    const { rules, invoked } = rulesOf([sweep]);
    rules.runSchedule(sweep.logicalId);
    expect(invoked).toEqual([['StaleSweep1A2B3C4D', { job: 'stale-sessions', days: 7 }]]);
  });

  it('takes an EventPattern given as JSON text', () => {
    const rule = stepDone({ EventPattern: '{"source":["app.surveys"]}' });
    expect(rule.pattern).toEqual({ source: ['app.surveys'] });
  });

  it('logs a target that failed, naming the rule, and counts it in flight until it settles', async () => {
    const { rules, logs } = rulesOf([stepDone()], () => Promise.reject(new Error('boom')));
    rules.putEvents([{ Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}' }]);
    expect(rules.inFlight).toBe(1);
    await flush();
    expect(rules.inFlight).toBe(0);
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'rule StepDoneRule0A1B2C3D: its target Notifier5E6F7A8B failed',
        error: 'boom',
      }),
    ]);
  });

  it('refuses an InputTransformer and an InputPath, naming the rule', () => {
    const transformer = {
      Arn: NOTIFIER_ARN,
      Id: 'Target0',
      InputTransformer: { InputPathsMap: { s: '$.detail.session' }, InputTemplate: '"<s>"' },
    };
    expect(
      refusal('StepDoneRule0A1B2C3D', () => stepDone({ Targets: [transformer] })).message,
    ).toBe('StepDoneRule0A1B2C3D: target Target0: InputTransformer and InputPath are not emulated');
    refusal('StepDoneRule0A1B2C3D', () =>
      stepDone({ Targets: [{ Arn: NOTIFIER_ARN, Id: 'Target0', InputPath: '$.detail' }] }),
    );
  });

  it('refuses an Input that is not JSON, a target that is not a function, a pattern it cannot read', () => {
    expect(
      refusal('StepDoneRule0A1B2C3D', () =>
        stepDone({ Targets: [{ Arn: NOTIFIER_ARN, Id: 'Target0', Input: '{job:' }] }),
      ).message,
    ).toBe('StepDoneRule0A1B2C3D: target Target0: its Input is not JSON');
    const queue = arn('sqs', 'audit');
    expect(
      refusal('StepDoneRule0A1B2C3D', () => stepDone({ Targets: [{ Arn: queue, Id: 'Q' }] }))
        .message,
    ).toMatch(`target ${queue} is not emulated`);
    expect(
      refusal('StepDoneRule0A1B2C3D', () =>
        stepDone({ EventPattern: { detail: { score: [{ numeric: ['>', 5] }] } } }),
      ).message,
    ).toMatch(/event pattern: operator 'numeric' at detail\.score is not emulated/);
  });
});
