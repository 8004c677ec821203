import { describe, expect, it } from 'vitest';
import { DISPATCHER_SOURCE, EVALUATOR_SOURCE } from '../../lib/adapters/aws-lambda/wiring.ts';
import { matchesAny, matchesPattern } from '../../lib/local/filter.ts';

function record(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  sk: string,
  status?: { old?: string; next?: string },
) {
  return {
    eventName,
    dynamodb: {
      Keys: { pk: { S: 'S#s1' }, sk: { S: sk } },
      ...(status?.next ? { NewImage: { status: { S: status.next } } } : {}),
      ...(status?.old ? { OldImage: { status: { S: status.old } } } : {}),
    },
  };
}

describe('stream filter patterns', () => {
  it('deliver event inserts, and only those, to the evaluator', () => {
    expect(matchesAny(record('INSERT', 'EVT#e1'), EVALUATOR_SOURCE.filters)).toBe(true);
    expect(matchesAny(record('MODIFY', 'EVT#e1'), EVALUATOR_SOURCE.filters)).toBe(false);
    expect(matchesAny(record('INSERT', 'INST#t#0'), EVALUATOR_SOURCE.filters)).toBe(false);
    expect(matchesAny(record('INSERT', 'HEAD'), EVALUATOR_SOURCE.filters)).toBe(false);
  });

  it('deliver instances that just became scheduled, and only those, to the dispatcher', () => {
    const f = DISPATCHER_SOURCE.filters;
    expect(matchesAny(record('INSERT', 'INST#t#0', { next: 'scheduled' }), f)).toBe(true);
    expect(matchesAny(record('MODIFY', 'INST#t#0', { old: 'failed', next: 'scheduled' }), f)).toBe(
      true,
    );
    expect(matchesAny(record('INSERT', 'INST#t#0', { next: 'abandoned' }), f)).toBe(false);
    expect(
      matchesAny(record('MODIFY', 'INST#t#0', { old: 'scheduled', next: 'scheduled' }), f),
    ).toBe(false);
    expect(matchesAny(record('MODIFY', 'INST#t#0', { old: 'scheduled', next: 'running' }), f)).toBe(
      false,
    );
    expect(matchesAny(record('INSERT', 'EVT#x', { next: 'scheduled' }), f)).toBe(false);
  });

  it('fail a match on a field the event lacks, unless the pattern asks it not to exist', () => {
    expect(matchesPattern({}, { a: ['x'] })).toBe(false);
    expect(matchesPattern({}, { a: [{ exists: false }] })).toBe(true);
    expect(matchesPattern({ a: 'x' }, { a: [{ exists: true }] })).toBe(true);
    expect(matchesPattern({}, { a: [{ 'anything-but': ['x'] }] })).toBe(false);
  });

  it('treat a list of values as alternatives and nested patterns as all-of', () => {
    expect(matchesPattern({ a: 2 }, { a: [1, 2] })).toBe(true);
    expect(matchesPattern({ a: { b: 'y', c: 'z' } }, { a: { b: ['y'], c: ['q'] } })).toBe(false);
    expect(matchesPattern({ a: 'prefix-rest' }, { a: [{ prefix: 'prefix-' }] })).toBe(true);
    expect(matchesPattern({ a: 5 }, { a: [{ prefix: '5' }] })).toBe(false);
  });

  it('does not let an inherited property satisfy a pattern', () => {
    expect(matchesPattern({}, { toString: [{ exists: true }] })).toBe(false);
  });

  it('delivers everything when there are no patterns', () => {
    expect(matchesAny({ anything: true }, [])).toBe(true);
  });
});
