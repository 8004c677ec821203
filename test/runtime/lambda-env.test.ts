import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDispatcherHandler } from '../../lib/adapters/aws-lambda/dispatcher.ts';
import {
  jsonLineSink,
  queueUrlFrom,
  runtimeFromEnv,
  settingsFromEnv,
  type TriggersApp,
} from '../../lib/adapters/aws-lambda/environment.ts';
import { createEvaluatorHandler } from '../../lib/adapters/aws-lambda/evaluator.ts';
import { sqsSendTask } from '../../lib/adapters/aws-lambda/sqs-sender.ts';
import { createTaskHandler } from '../../lib/adapters/aws-lambda/task.ts';
import { TASK_QUEUE } from '../../lib/adapters/aws-lambda/wiring.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { splitDelay, type TaskMessage } from '../../lib/core/task-message.ts';
import { readSession } from '../../lib/core/view.ts';
import { EnvironmentError } from '../../lib/errors.ts';
import { defineWorkflow, NotFoundError, TriggersError, ValidationError } from '../../lib/index.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { keys } from '../../lib/store/layout.ts';
import type { EventRecord, InstanceRecord } from '../../lib/store/port.ts';
import {
  harness,
  lambdaContext,
  ManualClock,
  recordingSqs,
  rejectionOf,
  sqsEvent,
  sqsRecord,
  thrownBy,
} from './fixtures.ts';

const survey = defineWorkflow('survey', { t_score: { after: ['go'], run: 'score' } });
const app: TriggersApp = { workflows: [survey], handlers: { score: () => ({ score: 42 }) } };

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/triggers-score';
const ENV = {
  TRIGGERS_TABLE_NAME: 'triggers-sessions',
  TRIGGERS_QUEUE_URLS: JSON.stringify({ score: QUEUE_URL }),
  AWS_REGION: 'eu-west-1',
};

function streamRecord(
  eventName: 'INSERT' | 'MODIFY',
  sequenceNumber: string,
  sessionId: string,
  sk: string,
  newImage: Record<string, unknown>,
  oldImage?: Record<string, unknown>,
): DynamoDBRecord {
  const image = (item: Record<string, unknown>) =>
    marshall(
      { ...item, pk: keys.session(sessionId), sk },
      { removeUndefinedValues: true },
    ) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];
  return {
    eventName,
    dynamodb: {
      Keys: { pk: { S: keys.session(sessionId) }, sk: { S: sk } },
      NewImage: image(newImage),
      ...(oldImage ? { OldImage: image(oldImage) } : {}),
      SequenceNumber: sequenceNumber,
    },
  };
}

/** The stream record of an event insert, as DynamoDB writes it (kwargs as JSON text). */
function eventInsert(event: EventRecord, sequenceNumber: string): DynamoDBRecord {
  const item = 'kwargs' in event ? { ...event, kwargs: JSON.stringify(event.kwargs) } : event;
  return streamRecord('INSERT', sequenceNumber, event.sessionId, keys.event(event.eventId), item);
}

/** The stream record of an instance that has just become `scheduled`. */
function scheduledInsert(record: InstanceRecord, sequenceNumber: string): DynamoDBRecord {
  return streamRecord(
    'INSERT',
    sequenceNumber,
    record.sessionId,
    keys.instance(record.name),
    record as unknown as Record<string, unknown>,
  );
}

function streamEvent(...records: DynamoDBRecord[]): DynamoDBStreamEvent {
  return { Records: records };
}

describe('settingsFromEnv', () => {
  it('reads the table, the queue URLs, the endpoints and the region', () => {
    const settings = settingsFromEnv({
      ...ENV,
      TRIGGERS_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      TRIGGERS_SQS_ENDPOINT: 'http://127.0.0.1:9324',
    });

    expect(settings).toMatchObject({
      TRIGGERS_TABLE_NAME: 'triggers-sessions',
      TRIGGERS_QUEUE_URLS: { score: QUEUE_URL },
      TRIGGERS_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      TRIGGERS_SQS_ENDPOINT: 'http://127.0.0.1:9324',
      AWS_REGION: 'eu-west-1',
    });
  });

  it('refuses a missing table name with an error naming TRIGGERS_TABLE_NAME', () => {
    const err = thrownBy(() => settingsFromEnv({ AWS_REGION: 'eu-west-1' }));

    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as EnvironmentError).variable).toBe('TRIGGERS_TABLE_NAME');
    expect(err.message).toMatch(/^environment variable TRIGGERS_TABLE_NAME is required/);
  });

  it('treats an empty variable as unset', () => {
    const err = thrownBy(() => settingsFromEnv({ TRIGGERS_TABLE_NAME: '' }));

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_TABLE_NAME');
  });

  it('refuses queue URLs that are not JSON, naming TRIGGERS_QUEUE_URLS', () => {
    const err = thrownBy(() => settingsFromEnv({ ...ENV, TRIGGERS_QUEUE_URLS: 'score=url' }));

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_QUEUE_URLS');
    expect(err.message).toContain('must be JSON');
  });

  it('refuses a queue URL that is not a URL, naming the variable and the queue', () => {
    const err = thrownBy(() =>
      settingsFromEnv({ ...ENV, TRIGGERS_QUEUE_URLS: JSON.stringify({ score: 'nope' }) }),
    );

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_QUEUE_URLS');
    expect(err.message).toContain("'score'");
  });

  it('refuses queue URLs given as a JSON array', () => {
    const err = thrownBy(() => settingsFromEnv({ ...ENV, TRIGGERS_QUEUE_URLS: '["a"]' }));

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_QUEUE_URLS');
  });

  it('refuses an endpoint that is not a URL, naming it', () => {
    const err = thrownBy(() =>
      settingsFromEnv({ ...ENV, TRIGGERS_DYNAMODB_ENDPOINT: 'localhost 8000' }),
    );

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_DYNAMODB_ENDPOINT');
  });

  it('refuses a function timeout that is not a whole number of seconds', () => {
    const err = thrownBy(() =>
      settingsFromEnv({ ...ENV, TRIGGERS_FUNCTION_TIMEOUT_SECONDS: '2.5' }),
    );

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_FUNCTION_TIMEOUT_SECONDS');
  });

  it('refuses an unknown log level', () => {
    const err = thrownBy(() => settingsFromEnv({ ...ENV, TRIGGERS_LOG_LEVEL: 'verbose' }));

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_LOG_LEVEL');
  });
});

describe('runtimeFromEnv', () => {
  it('builds a DynamoStore on the table and a registry of the app', () => {
    const runtime = runtimeFromEnv(app, ENV);

    expect(runtime.store).toBeInstanceOf(DynamoStore);
    expect(runtime.store.tableName).toBe('triggers-sessions');
    expect(runtime.registry.defaultWorkflow).toBe('survey');
  });

  it('derives the task lease from the function timeout, as the wiring does', () => {
    const runtime = runtimeFromEnv(app, { ...ENV, TRIGGERS_FUNCTION_TIMEOUT_SECONDS: '60' });

    expect(runtime.leaseSeconds).toBe(TASK_QUEUE.leaseSeconds(60));
  });

  it('works without queue URLs, and its send then names TRIGGERS_QUEUE_URLS', async () => {
    const { sqs } = recordingSqs();
    const runtime = runtimeFromEnv(app, { TRIGGERS_TABLE_NAME: 'triggers-sessions' }, { sqs });

    const err = await rejectionOf(runtime.send('score', { sessionId: 's1', instance: 'a#0' }, 0));

    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).variable).toBe('TRIGGERS_QUEUE_URLS');
  });
});

describe('splitDelay', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');

  it('keeps a delay SQS can hold as it is', () => {
    expect(splitDelay(TASK_QUEUE.maxDelaySeconds, now)).toEqual({ delaySeconds: 900 });
  });

  it('rounds a fractional delay up and a negative one to zero', () => {
    expect(splitDelay(1.2, now)).toEqual({ delaySeconds: 2 });
    expect(splitDelay(-5, now)).toEqual({ delaySeconds: 0 });
  });

  it('holds a longer delay for the SQS maximum and says when the task may run', () => {
    expect(splitDelay(3600, now)).toEqual({
      delaySeconds: 900,
      notBefore: '2026-01-01T01:00:00.000Z',
    });
  });
});

describe('the SQS send', () => {
  const message: TaskMessage = { sessionId: 's1', instance: 't_score#0' };

  it('sends the message to the queue URL of its queue, with its delay', async () => {
    const { sqs, sent } = recordingSqs();
    const send = sqsSendTask({
      sqs,
      queueUrl: queueUrlFrom({ score: QUEUE_URL }),
      clock: new ManualClock(),
    });

    await send('score', message, 30);

    expect(sent).toEqual([
      { QueueUrl: QUEUE_URL, MessageBody: JSON.stringify(message), DelaySeconds: 30 },
    ]);
  });

  it('splits a delay over 15 minutes into the SQS maximum and a notBefore in the body', async () => {
    const { sqs, sent } = recordingSqs();
    const send = sqsSendTask({
      sqs,
      queueUrl: queueUrlFrom({ score: QUEUE_URL }),
      clock: new ManualClock(),
    });

    await send('score', message, 7200);

    expect(sent[0]?.DelaySeconds).toBe(900);
    expect(JSON.parse(sent[0]?.MessageBody ?? '')).toEqual({
      ...message,
      notBefore: '2026-01-01T02:00:00.000Z',
    });
  });

  it('refuses a queue it has no URL for, naming the queue', async () => {
    const { sqs, sent } = recordingSqs();
    const send = sqsSendTask({
      sqs,
      queueUrl: queueUrlFrom({ score: QUEUE_URL }),
      clock: new ManualClock(),
    });

    const err = await rejectionOf(send('publish', message, 0));

    expect(err).toBeInstanceOf(TriggersError);
    expect((err as TriggersError).code).toBe('NO_QUEUE');
    expect(err.message).toContain("'publish'");
    expect(sent).toEqual([]);
  });
});

describe('jsonLineSink', () => {
  const entry = (level: LogEntry['level']): LogEntry => ({
    level,
    message: 'evaluated',
    timestamp: '2026-01-01T00:00:00.000Z',
    sessionId: 's1',
  });

  it('writes each entry as one JSON line', () => {
    const lines: string[] = [];
    const log = jsonLineSink({ write: (line) => lines.push(line) });

    log(entry('info'));

    expect(lines.map((l) => JSON.parse(l))).toEqual([entry('info')]);
  });

  it('drops entries below its level', () => {
    const lines: string[] = [];
    const log = jsonLineSink({ level: 'warn', write: (line) => lines.push(line) });

    log(entry('info'));
    log(entry('error'));

    expect(lines.map((l) => JSON.parse(l).level)).toEqual(['error']);
  });

  it('keeps an entry whose attributes cannot be serialized', () => {
    const lines: string[] = [];
    const log = jsonLineSink({ write: (line) => lines.push(line) });

    log({ ...entry('error'), size: 10n });

    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'error', message: 'evaluated' });
  });
});

describe('createEvaluatorHandler', () => {
  it('applies the events of a stream batch and schedules the task they make ready', async () => {
    const h = harness(survey);
    await h.fire('s1', 'go');
    const [event] = await h.store.pendingEvents('s1');
    const handler = createEvaluatorHandler({ ...h, log: () => {} });

    const res = await handler(streamEvent(eventInsert(event as EventRecord, '100')));

    expect(res).toEqual({ batchItemFailures: [] });
    const view = await readSession(h, 's1');
    expect(view?.instances.map((i) => [i.name, i.status])).toEqual([['t_score#0', 'scheduled']]);
  });
});

describe('createEvaluatorHandler with send (direct dispatch)', () => {
  type Sent = [queue: string, message: TaskMessage, delay: number];

  it('sends the instance it scheduled to its queue, after the commit', async () => {
    const h = harness(survey);
    await h.fire('s1', 'go');
    const [event] = await h.store.pendingEvents('s1');
    const sent: Sent[] = [];
    const statusAtSend: string[] = [];
    const handler = createEvaluatorHandler({
      ...h,
      log: () => {},
      send: async (queue, message, delay) => {
        statusAtSend.push((await h.store.getInstance('s1', message.instance))?.status ?? 'none');
        sent.push([queue, message, delay]);
      },
    });

    const res = await handler(streamEvent(eventInsert(event as EventRecord, '100')));

    expect(res).toEqual({ batchItemFailures: [] });
    expect(sent).toEqual([['score', { sessionId: 's1', instance: 't_score#0' }, 0]]);
    expect(statusAtSend).toEqual(['scheduled']);
  });

  it('reports the batch when a send fails, and its re-delivery sends what the commit owes without applying anything twice', async () => {
    const h = harness(survey);
    await h.fire('s1', 'go');
    const [event] = await h.store.pendingEvents('s1');
    const batch = streamEvent(eventInsert(event as EventRecord, '100'));
    const sent: Sent[] = [];
    let failNext = true;
    const handler = createEvaluatorHandler({
      ...h,
      log: () => {},
      send: async (queue, message, delay) => {
        if (failNext) {
          failNext = false;
          throw new Error('SQS unavailable');
        }
        sent.push([queue, message, delay]);
      },
    });

    expect(await handler(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    expect(sent).toEqual([]);
    expect(await handler(batch)).toEqual({ batchItemFailures: [] });

    expect(sent).toEqual([['score', { sessionId: 's1', instance: 't_score#0' }, 0]]);
    expect((await h.store.listInstances('s1')).map((i) => i.name)).toEqual(['t_score#0']);
    expect((await h.store.getHead('s1'))?.applied?.count).toBe(1);
  });

  it('sends nothing again for a batch older than the last one applied', async () => {
    const h = harness(survey);
    await h.fire('s1', 'go');
    const [first] = await h.store.pendingEvents('s1');
    const sent: Sent[] = [];
    const handler = createEvaluatorHandler({
      ...h,
      log: () => {},
      send: async (queue, message, delay) => {
        sent.push([queue, message, delay]);
      },
    });
    const old = streamEvent(eventInsert(first as EventRecord, '100'));
    await handler(old);
    await h.fire('s1', 'other');
    const [second] = await h.store.pendingEvents('s1');
    await handler(streamEvent(eventInsert(second as EventRecord, '200')));
    sent.length = 0;

    expect(await handler(old)).toEqual({ batchItemFailures: [] });

    expect(sent).toEqual([]);
  });
});

describe('createDispatcherHandler', () => {
  async function scheduledRecord(): Promise<InstanceRecord> {
    const h = harness(survey);
    await h.fire('s1', 'go');
    await h.evaluate('s1');
    const [record] = await h.store.listInstances('s1');
    return record as InstanceRecord;
  }

  it('sends an instance that became scheduled to its queue', async () => {
    const record = await scheduledRecord();
    const sent: Array<[string, TaskMessage, number]> = [];
    const handler = createDispatcherHandler({
      send: async (queue, message, delay) => {
        sent.push([queue, message, delay]);
      },
      log: () => {},
    });

    const res = await handler(streamEvent(scheduledInsert(record, '7')));

    expect(res).toEqual({ batchItemFailures: [] });
    expect(sent).toEqual([['score', { sessionId: 's1', instance: 't_score#0' }, 0]]);
  });

  it('logs a failed send and reports its record for retry', async () => {
    const record = await scheduledRecord();
    const logs: LogEntry[] = [];
    const handler = createDispatcherHandler({
      send: async () => {
        throw new Error('throttled');
      },
      log: (e) => logs.push(e),
      clock: new ManualClock(),
    });

    const res = await handler(streamEvent(scheduledInsert(record, '7')));

    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: '7' }] });
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'error',
        timestamp: '2026-01-01T00:00:00.000Z',
        error: 'Error: throttled',
      }),
    ]);
  });
});

describe('createTaskHandler', () => {
  it('refuses a handler name the app does not have, listing the ones it has', () => {
    const err = thrownBy(() => createTaskHandler(app, 'publish', ENV));

    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain("'publish'");
    expect(err.message).toContain('score');
  });

  it('refuses an incomplete environment at creation', () => {
    const err = thrownBy(() => createTaskHandler(app, 'score', {}));

    expect((err as EnvironmentError).variable).toBe('TRIGGERS_TABLE_NAME');
  });

  it('runs the named handler on a delivered instance and records its result', async () => {
    const h = harness(survey);
    await h.fire('s1', 'go');
    await h.evaluate('s1');
    const handler = createTaskHandler(app, 'score', {}, { ...h, log: () => {} });

    const res = await handler(
      sqsEvent(sqsRecord('m1', { sessionId: 's1', instance: 't_score#0' })),
      lambdaContext(),
    );

    expect(res).toEqual({ batchItemFailures: [] });
    const instance = await h.store.getInstance('s1', 't_score#0');
    expect(instance).toMatchObject({ status: 'finished', result: { score: 42 } });
  });
});
