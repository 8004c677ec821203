/**
 * The lifecycle events' EventBridge publisher against a client whose `send` is stubbed:
 * entries, chunks, order, retries of refused entries and the error when they stay refused; and
 * the lifecycle variables of the functions' environment.
 * May import: anything under lib/, the AWS SDK.
 *
 * @module
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { runtimeFromEnv } from '../../lib/adapters/aws-lambda/environment.ts';
import {
  eventBridgePublisher,
  lifecycleRuntimeFromEnv,
} from '../../lib/adapters/aws-lambda/eventbridge-publisher.ts';
import { ENV } from '../../lib/adapters/aws-lambda/variables.ts';
import { LIFECYCLE_EVENT_SOURCE, type LifecycleEvent } from '../../lib/core/lifecycle.ts';
import { defineWorkflow } from '../../lib/engine/workflow.ts';
import { EnvironmentError, TriggersError } from '../../lib/errors.ts';

type Answer = (
  entries: PutEventsRequestEntry[],
  call: number,
) => PutEventsCommandOutput | Promise<PutEventsCommandOutput>;

const accepted = (entries: PutEventsRequestEntry[]): PutEventsCommandOutput => ({
  $metadata: {},
  FailedEntryCount: 0,
  Entries: entries.map((_, i) => ({ EventId: `ev-${i}` })),
});

/** A real client whose `send` records each PutEvents' entries and answers with `answer`. */
function stubbedClient(answer: Answer = accepted) {
  const calls: PutEventsRequestEntry[][] = [];
  const client = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });
  const send = async (command: unknown): Promise<PutEventsCommandOutput> => {
    if (!(command instanceof PutEventsCommand)) throw new Error('expected a PutEventsCommand');
    const entries = command.input.Entries ?? [];
    calls.push(entries);
    return answer(entries, calls.length);
  };
  Object.assign(client, { send });
  return { client, calls };
}

/** `n` distinct `Trigger Fired` events, `fired:s1:e<i>`. */
function fired(n: number, detailPad = ''): LifecycleEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    detailType: 'Trigger Fired',
    detail: {
      id: `fired:s1:e${i}`,
      sessionId: 's1',
      workflow: `survey${detailPad}`,
      trigger: 'step1',
      eventId: `e${i}`,
      scheduled: [],
    },
  }));
}

const idsOf = (entries: PutEventsRequestEntry[]) =>
  entries.map((e) => (JSON.parse(e.Detail ?? '{}') as { id: string }).id);

describe('eventBridgePublisher', () => {
  it('puts each event as an entry: the source, its detail-type, its detail as JSON, the bus', async () => {
    const { client, calls } = stubbedClient();
    const replayed: LifecycleEvent = {
      detailType: 'Instance Replayed',
      detail: { id: 'replayed:s1:e9', sessionId: 's1', instance: 't_a#1', parent: 't_a#0' },
    };
    await eventBridgePublisher({ client, eventBusName: 'audit' })([replayed]);
    expect(calls).toEqual([
      [
        {
          Source: LIFECYCLE_EVENT_SOURCE,
          DetailType: 'Instance Replayed',
          Detail: JSON.stringify(replayed.detail),
          EventBusName: 'audit',
        },
      ],
    ]);
  });

  it('sends 23 events as chunks of 10, 10 and 3, in the order given', async () => {
    const { client, calls } = stubbedClient();
    const events = fired(23);
    await eventBridgePublisher({ client, eventBusName: 'default' })(events);
    expect(calls.map((c) => c.length)).toEqual([10, 10, 3]);
    expect(calls.flatMap(idsOf)).toEqual(events.map((e) => e.detail.id));
  });

  it('starts a chunk only once the one before it was accepted', async () => {
    let release: (() => void) | undefined;
    const { client, calls } = stubbedClient(async (entries, call) => {
      if (call === 1) await new Promise<void>((resolve) => (release = resolve));
      return accepted(entries);
    });
    const done = eventBridgePublisher({ client, eventBusName: 'default' })(fired(12));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toHaveLength(1);
    release?.();
    await done;
    expect(calls.map((c) => c.length)).toEqual([10, 2]);
  });

  it('cuts a chunk early when the next entry would take it over 256 KiB', async () => {
    const { client, calls } = stubbedClient();
    await eventBridgePublisher({ client, eventBusName: 'default' })(fired(3, 'x'.repeat(100_000)));
    expect(calls.map((c) => c.length)).toEqual([2, 1]);
  });

  it('puts nothing for no events', async () => {
    const { client, calls } = stubbedClient();
    await eventBridgePublisher({ client, eventBusName: 'default' })([]);
    expect(calls).toEqual([]);
  });

  it('puts the refused entries again, and only them, until they are accepted', async () => {
    const { client, calls } = stubbedClient((entries, call) =>
      call === 1
        ? {
            $metadata: {},
            FailedEntryCount: 2,
            Entries: entries.map((_, i) =>
              i === 2 || i === 5
                ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
                : { EventId: `ev-${i}` },
            ),
          }
        : accepted(entries),
    );
    const events = fired(12);
    await eventBridgePublisher({ client, eventBusName: 'default', retryDelayMs: 1 })(events);
    expect(calls.map(idsOf)).toEqual([
      events.slice(0, 10).map((e) => e.detail.id),
      ['fired:s1:e2', 'fired:s1:e5'],
      ['fired:s1:e10', 'fired:s1:e11'],
    ]);
  });

  it('throws a TriggersError naming the count and the first error code once the attempts are spent, and sends no later chunk', async () => {
    const { client, calls } = stubbedClient((entries, call) => ({
      $metadata: {},
      FailedEntryCount: call === 1 ? 3 : entries.length,
      Entries: entries.map((_, i) =>
        call === 1 && i >= 3
          ? { EventId: `ev-${i}` }
          : { ErrorCode: i === 0 ? 'InternalFailure' : 'ThrottlingException' },
      ),
    }));
    const publish = eventBridgePublisher({
      client,
      eventBusName: 'audit',
      maxAttempts: 3,
      retryDelayMs: 1,
    });
    const err = await publish(fired(15)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TriggersError);
    expect((err as TriggersError).code).toBe('PUBLISH_FAILED');
    expect((err as TriggersError).message).toMatch(
      /refused 3 of 10 lifecycle event\(s\) on 'audit' after 3 attempt\(s\); first error: InternalFailure/,
    );
    expect(calls.map((c) => c.length)).toEqual([10, 3, 3]);
  });

  it('treats a failed count without failed entries as all of them refused', async () => {
    const { client, calls } = stubbedClient((entries, call) =>
      call === 1 ? { $metadata: {}, FailedEntryCount: 1, Entries: [] } : accepted(entries),
    );
    await eventBridgePublisher({ client, eventBusName: 'default', retryDelayMs: 1 })(fired(4));
    expect(calls.map((c) => c.length)).toEqual([4, 4]);
  });

  it('wraps a request that fails as a whole in a TriggersError, keeping the cause', async () => {
    const denied = Object.assign(new Error('not authorized to perform events:PutEvents'), {
      name: 'AccessDeniedException',
    });
    const { client } = stubbedClient(() => {
      throw denied;
    });
    const err = await eventBridgePublisher({ client, eventBusName: 'default' })(fired(1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TriggersError);
    expect((err as TriggersError).message).toContain('AccessDeniedException');
    expect((err as TriggersError).cause).toBe(denied);
  });
});

describe('the lifecycle variables', () => {
  const app = { workflows: [defineWorkflow('survey', { t_a: { after: ['go'], run: 'a' } })] };
  const base = { [ENV.tableName]: 'triggers-sessions', [ENV.region]: 'us-east-1' };

  it("turns the evaluator's notes on with TRIGGERS_LIFECYCLE=1, and leaves them off without it", () => {
    expect(runtimeFromEnv(app, { ...base, [ENV.lifecycle]: '1' }).lifecycle).toBe(true);
    expect(runtimeFromEnv(app, base).lifecycle).toBeUndefined();
  });

  it('refuses another value of TRIGGERS_LIFECYCLE, naming it', () => {
    const err = (() => {
      try {
        runtimeFromEnv(app, { ...base, [ENV.lifecycle]: 'yes' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).variable).toBe(ENV.lifecycle);
  });

  it('needs the event bus of the lifecycle function', () => {
    expect(() => lifecycleRuntimeFromEnv(app, base)).toThrow(
      /environment variable TRIGGERS_EVENT_BUS_NAME is required/,
    );
  });

  it('publishes on the bus TRIGGERS_EVENT_BUS_NAME names, through the client given', async () => {
    const { client, calls } = stubbedClient();
    const deps = lifecycleRuntimeFromEnv(
      app,
      { ...base, [ENV.eventBusName]: 'audit' },
      { eventBridge: client },
    );
    await deps.publish(fired(1));
    expect(calls.flat().map((e) => e.EventBusName)).toEqual(['audit']);
  });
});
