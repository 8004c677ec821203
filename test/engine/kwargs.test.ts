/**
 * The kwargs a handler receives: withParams merged recursively under the applied trigger kwargs.
 */
import { describe, expect, it } from 'vitest';
import { handlerKwargs, isPlainObject, mergeDeep } from '../../lib/engine/index.ts';
import type { Kwargs } from '../../lib/types.ts';

describe('handlerKwargs', () => {
  it('gives the result of the semantics example exactly', () => {
    const withParams = { t_a: { foo: 'bar', kwargs: { hacked: true } } };
    const applied = { t_a: { kwargs: { dataReceived: {} } } };

    const kwargs = handlerKwargs(withParams, applied);

    expect(kwargs).toStrictEqual({
      t_a: { foo: 'bar', kwargs: { dataReceived: {}, hacked: true } },
    });
  });

  it('lets the fired value win at every level of nesting', () => {
    const withParams = { t: { a: { b: { c: 1, keep: 'w' }, keep: 'w' }, keep: 'w' } };
    const applied = { t: { a: { b: { c: 2 } } } };

    const kwargs = handlerKwargs(withParams, applied);

    expect(kwargs).toStrictEqual({ t: { a: { b: { c: 2, keep: 'w' }, keep: 'w' }, keep: 'w' } });
  });

  it('replaces arrays instead of merging them', () => {
    const withParams = { t: { list: [1, 2, 3], nested: { list: ['a', 'b'] } } };
    const applied = { t: { list: [9], nested: { list: [] } } };

    const kwargs = handlerKwargs(withParams, applied);

    expect(kwargs).toStrictEqual({ t: { list: [9], nested: { list: [] } } });
  });

  it('replaces an object with a fired value that is not an object', () => {
    const withParams = { t: { cfg: { a: 1 }, other: { b: 2 }, gone: { c: 3 } } };
    const applied = { t: { cfg: 'plain', other: null, gone: [1] } };

    const kwargs = handlerKwargs(withParams, applied);

    expect(kwargs).toStrictEqual({ t: { cfg: 'plain', other: null, gone: [1] } });
  });

  it('replaces a value that is not an object with a fired object', () => {
    const withParams = { t: { cfg: 'plain', list: [1, 2], nothing: null } };
    const applied = { t: { cfg: { a: 1 }, list: { b: 2 }, nothing: { c: 3 } } };

    const kwargs = handlerKwargs(withParams, applied);

    expect(kwargs).toStrictEqual({ t: { cfg: { a: 1 }, list: { b: 2 }, nothing: { c: 3 } } });
  });

  it('passes withParams keys that are not triggers as they are', () => {
    const withParams = { _finishStep: { name: 'observations' }, extra: { stuff: 'arbitrary' } };
    const applied = { _finishStep: {} };

    const kwargs = handlerKwargs(withParams, applied);

    expect(kwargs).toStrictEqual({
      _finishStep: { name: 'observations' },
      extra: { stuff: 'arbitrary' },
    });
  });

  it('passes applied trigger kwargs that withParams does not mention as they are', () => {
    const applied = { a: { x: 1 }, b: { y: [2] } };

    const kwargs = handlerKwargs({}, applied);

    expect(kwargs).toStrictEqual({ a: { x: 1 }, b: { y: [2] } });
  });

  it('returns a fresh copy: mutating it leaves withParams and the applied kwargs untouched', () => {
    const withParams = { t: { foo: 'bar', nested: { list: [1] } }, extra: { deep: { n: 1 } } };
    const applied = { t: { fired: { v: 1 } } };
    const withParamsBefore = structuredClone(withParams);
    const appliedBefore = structuredClone(applied);

    const kwargs = handlerKwargs(withParams, applied) as {
      t: { foo: string; nested: { list: number[] }; fired: { v: number } };
      extra: { deep: { n: number } };
    };
    kwargs.t.foo = 'changed';
    kwargs.t.nested.list.push(2);
    kwargs.t.fired.v = 2;
    kwargs.extra.deep.n = 2;

    expect(withParams).toStrictEqual(withParamsBefore);
    expect(applied).toStrictEqual(appliedBefore);
  });

  it('keeps a __proto__ key of fired kwargs (from JSON.parse) as an own plain key', () => {
    const withParams = { t: { a: 1 } };
    const applied = JSON.parse('{"t": {"__proto__": {"polluted": true}}}') as Record<
      string,
      Kwargs
    >;

    const kwargs = handlerKwargs(withParams, applied);

    const t = kwargs.t as Record<string, unknown>;
    expect(Object.keys(t)).toEqual(['a', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(t, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
    expect(t.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps a top-level __proto__ trigger key (from JSON.parse) without changing any prototype', () => {
    const applied = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, Kwargs>;

    const kwargs = handlerKwargs({ x: { a: 1 } }, applied);

    expect(Object.keys(kwargs)).toEqual(['x', '__proto__']);
    expect(Object.getPrototypeOf(kwargs)).toBe(Object.prototype);
    expect((kwargs as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('mergeDeep', () => {
  it('merges nested objects and lets the second argument win', () => {
    const merged = mergeDeep({ a: { b: 1, c: 1 }, d: 1 }, { a: { b: 2 }, e: 2 });

    expect(merged).toStrictEqual({ a: { b: 2, c: 1 }, d: 1, e: 2 });
  });

  it('does not change its arguments', () => {
    const base = { a: { b: 1 } };
    const over = { a: { c: 2 } };

    mergeDeep(base, over);

    expect(base).toStrictEqual({ a: { b: 1 } });
    expect(over).toStrictEqual({ a: { c: 2 } });
  });

  it('merges a __proto__ key from JSON as data on both sides, touching no prototype', () => {
    const base = JSON.parse('{"__proto__": {"fromBase": 1}}') as Kwargs;
    const over = JSON.parse('{"__proto__": {"fromOver": 2}}') as Kwargs;

    const merged = mergeDeep(base, over);

    expect(Object.keys(merged)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(merged, '__proto__')?.value).toEqual({
      fromBase: 1,
      fromOver: 2,
    });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).fromOver).toBeUndefined();
  });
});

describe('isPlainObject', () => {
  it('is true only for plain objects, not arrays, null, or class instances', () => {
    const values = [{}, Object.create(null), [], null, 'x', 1, new Date(0), new Map()];

    const results = values.map((v) => isPlainObject(v));

    expect(results).toEqual([true, true, false, false, false, false, false, false]);
  });
});
