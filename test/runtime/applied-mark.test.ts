/**
 * The head's applied mark: which delivered events the evaluator takes as applied.
 */
import { describe, expect, it } from 'vitest';
import { compareSequence, type HeadRecord, isApplied } from '../../lib/store/port.ts';

const head = (stream: string, sequence: string): HeadRecord => ({
  sessionId: 's1',
  version: 3,
  state: { workflow: 'w', fired: {}, next: {}, unstarted: {} },
  applied: { stream, sequence, count: 3, at: '2026-11-28T00:00:00.000Z' },
});

describe('the applied mark', () => {
  it('orders sequence numbers as numbers, whatever their length', () => {
    expect(compareSequence('9', '10')).toBeLessThan(0);
    expect(compareSequence('000000000000000000010', '000000000000000000009')).toBeGreaterThan(0);
    expect(compareSequence('4200000000000000000000123', '4200000000000000000000123')).toBe(0);
  });

  it('takes events at or before the mark in the same stream as applied, and none after', () => {
    const h = head('arn:stream/1', '120');
    expect(isApplied(h, { stream: 'arn:stream/1', sequence: '99' })).toBe(true);
    expect(isApplied(h, { stream: 'arn:stream/1', sequence: '120' })).toBe(true);
    expect(isApplied(h, { stream: 'arn:stream/1', sequence: '121' })).toBe(false);
    expect(isApplied(h, { stream: 'arn:stream/1', sequence: '1000' })).toBe(false);
  });

  it('takes nothing of another stream as applied (a re-created stream holds only new writes)', () => {
    expect(isApplied(head('arn:stream/1', '120'), { stream: 'arn:stream/2', sequence: '5' })).toBe(
      false,
    );
  });

  it('takes nothing as applied before the first commit', () => {
    expect(isApplied(undefined, { stream: 'arn:stream/1', sequence: '1' })).toBe(false);
  });
});
