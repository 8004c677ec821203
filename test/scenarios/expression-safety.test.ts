/**
 * Trigger names and kwargs are data, never expression text: names that look like expression
 * placeholders, functions or reserved words, and kwargs full of expression syntax, behave like
 * any other (design invariant 6).
 */
import { describe, expect, it } from 'vitest';
import { expectFinished, start } from './harness.ts';

describe('names and kwargs that look like expressions', () => {
  it('are plain names and plain data on every backend', async () => {
    const rt = await start({
      ':v': { after: [':at', 'attribute_not_exists', 'size'], run: 'passThru' },
      constructor: { after: [':v', '__proto__'], run: 'passThru' },
    });
    const s = rt.session('s1');
    const hostile = { expr: 'a) OR (b', cond: '#sk = :v', 'SET #x = :y': 'REMOVE leaseUntil' };

    await s.fire(':at', hostile);
    await s.fire('attribute_not_exists', { n: 1 });
    await s.fire('size', { n: 2 });
    await s.fire('__proto__', { polluted: true });
    await rt.settle();

    await expectFinished(s, ':v#0', {
      kwargs: { ':at': hostile, attribute_not_exists: { n: 1 }, size: { n: 2 } },
    });
    const last = await expectFinished(s, 'constructor#0');
    const seen = last.result?.kwargs as Record<string, unknown>;
    expect(Object.keys(seen).sort()).toEqual([':v', '__proto__']);
    expect(Object.hasOwn(seen, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
