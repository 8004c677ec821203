/**
 * `DynamoStore.commitOutcome` when DynamoDB cancels the outcome transaction: only the instance's
 * own condition failing means the claim moved on (false: the delivery is done); a cancellation
 * for any other reason, such as a conflict with a concurrent transaction, must reach the caller
 * so that the delivery is retried and the outcome is not dropped. DynamoDB Local does not
 * produce transaction conflicts on demand, so the cancellation is injected into the client's
 * middleware (a narrow unit test of the store's reading of the cancellation reasons).
 */
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import type { OutcomeCommit } from '../../lib/store/port.ts';
import { rejectionOf } from './fixtures.ts';

function storeCancelling(codes: string[]): DynamoStore {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  client.middlewareStack.add(
    () => async () => {
      throw new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: codes.map((Code) => ({ Code })),
      });
    },
    { step: 'initialize', name: 'cancelEverything' },
  );
  return new DynamoStore({ tableName: 't', client });
}

const commit: OutcomeCommit = {
  update: {
    sessionId: 's1',
    name: 't_a#0',
    expect: ['running'],
    set: { status: 'finished', result: {}, updatedAt: '2026-11-27T10:00:00.000Z' },
  },
  leaseUntil: '2026-11-27T10:01:00.000Z',
  events: [
    {
      sessionId: 's1',
      eventId: 'cascade#t_a#0',
      kind: 'fire',
      trigger: 't_a',
      kwargs: {},
      source: 'cascade',
      firedAt: '2026-11-27T10:00:00.000Z',
    },
  ],
};

describe('commitOutcome on a cancelled transaction', () => {
  it('answers false when the instance condition failed: the claim moved on', async () => {
    expect(await storeCancelling(['ConditionalCheckFailed', 'None']).commitOutcome(commit)).toBe(
      false,
    );
  });

  it('rethrows a conflict with a concurrent transaction, so the delivery is retried', async () => {
    const err = await rejectionOf(
      storeCancelling(['None', 'TransactionConflict']).commitOutcome(commit),
    );
    expect(err).toBeInstanceOf(TransactionCanceledException);
  });

  it('rethrows a cancellation for throttling', async () => {
    const err = await rejectionOf(
      storeCancelling(['ThrottlingError', 'None']).commitOutcome(commit),
    );
    expect(err).toBeInstanceOf(TransactionCanceledException);
  });
});
