/**
 * Shared fixtures of the runtime tests: a controllable clock, a runtime over a real
 * `MemoryStore`, SQS events and a Lambda context as the task Lambda receives them.
 */
import { type SendMessageCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Clock } from '../../lib/core/clock.ts';
import { evaluateSession } from '../../lib/core/evaluator.ts';
import { fireEvent } from '../../lib/core/ingest.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { defineWorkflow, type TaskHandler, type Workflow } from '../../lib/index.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import type { EventRecord } from '../../lib/store/port.ts';
import type { Kwargs } from '../../lib/types.ts';

/** A clock that stands still until the test moves it. */
export class ManualClock implements Clock {
  private current: Date;
  constructor(start = '2026-01-01T00:00:00.000Z') {
    this.current = new Date(start);
  }
  now(): Date {
    return new Date(this.current.getTime());
  }
  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

/** A store, a registry and a clock, wired as the Lambdas wire them. */
export interface Harness {
  store: MemoryStore;
  registry: WorkflowRegistry;
  clock: ManualClock;
  logs: LogEntry[];
  /** Fires a trigger through the ingest flow. */
  fire(sessionId: string, trigger: string, kwargs?: Kwargs): Promise<void>;
  /** Runs the evaluator over the session's pending events. */
  evaluate(sessionId: string): Promise<void>;
}

export function harness(workflow: Workflow): Harness {
  const store = new MemoryStore();
  const registry = new WorkflowRegistry([workflow]);
  const clock = new ManualClock();
  const logs: LogEntry[] = [];
  return {
    store,
    registry,
    clock,
    logs,
    async fire(sessionId, trigger, kwargs) {
      await fireEvent(
        { store, registry, clock },
        { sessionId, trigger, ...(kwargs !== undefined ? { kwargs } : {}) },
      );
    },
    async evaluate(sessionId) {
      await evaluateSession(
        {
          store,
          registry,
          clock,
          log: (entry) => {
            logs.push(entry);
          },
        },
        sessionId,
        await store.pendingEvents(sessionId),
      );
    },
  };
}

/** The session's stored events (applied or not) that fire `trigger`. */
export async function firesOf(
  store: MemoryStore,
  sessionId: string,
  trigger: string,
): Promise<Array<Extract<EventRecord, { kind: 'fire' }>>> {
  const events = await store.listEvents(sessionId);
  return events.filter(
    (e): e is Extract<EventRecord, { kind: 'fire' }> => e.kind === 'fire' && e.trigger === trigger,
  );
}

/** One SQS record carrying `body` (an object is JSON-encoded, a string is sent as is). */
export function sqsRecord(messageId: string, body: unknown): SQSRecord {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body: text,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1767225600000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1767225600001',
    },
    messageAttributes: {},
    md5OfBody: '00000000000000000000000000000000',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:task-queue',
    awsRegion: 'us-east-1',
  };
}

/** An SQS event of the given records. */
export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A minimal Lambda context. */
export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'task-handler',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:task-handler',
    memoryLimitInMB: '128',
    awsRequestId: 'request-1',
    logGroupName: '/aws/lambda/task-handler',
    logStreamName: '2026/01/01/[$LATEST]0000',
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** The error a function throws; fails when it returns. */
export function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Two versions of one workflow, for the pinned-version tests. v1: shipping needs the packing and an address. */
export const ordersV1 = defineWorkflow('orders', {
  t_pack: { after: ['paid'], run: 'ok' },
  t_ship: { after: ['t_pack', 'addressed'], run: 'ok' },
});

/** v2: shipping also needs an approval, and there is an invoice task. */
export const ordersV2 = defineWorkflow('orders', {
  t_pack: { after: ['paid'], run: 'ok' },
  t_ship: { after: ['t_pack', 'addressed', 'approved'], run: 'ok' },
  t_invoice: { after: ['paid'], run: 'ok' },
});

/** The handler both versions run. */
export const ordersHandlers: Record<string, TaskHandler> = { ok: () => ({ ok: true }) };

/** A real SQS client whose calls stop before the network and are recorded. */
export function recordingSqs(): { sqs: SQSClient; sent: SendMessageCommandInput[] } {
  const sent: SendMessageCommandInput[] = [];
  const sqs = new SQSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
  });
  sqs.middlewareStack.add(
    () => async (args) => {
      sent.push(args.input as SendMessageCommandInput);
      return { output: { $metadata: {} } as never, response: {} };
    },
    { step: 'initialize', name: 'recordSends' },
  );
  return { sqs, sent };
}
