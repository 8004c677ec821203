/**
 * How a handler's kwargs are built: withParams merged recursively under the applied trigger
 * kwargs (the fired value wins at every level, non-objects replace), and what the instance
 * records (only the trigger kwargs).
 */
import { describe, expect, it } from 'vitest';
import type { Kwargs } from '../../lib/index.ts';
import { expectFinished, fireAndSettle, startSession } from './harness.ts';

describe('withParams', () => {
  it('merges into a cascade result recursively exactly as in the semantics example', async () => {
    const { rt, s } = await startSession(
      {
        t_a: { after: ['dataReceived'], run: 'wrap' },
        t_b: {
          after: ['t_a'],
          run: 'passThru',
          withParams: { t_a: { foo: 'bar', kwargs: { hacked: true } } },
        },
      },
      // t_a's result is { kwargs: { dataReceived: {} } }, the cascade kwargs of t_a.
      { wrap: (ctx) => ({ kwargs: ctx.kwargs }) },
    );

    await fireAndSettle(rt, s, 'dataReceived');

    await expectFinished(s, 't_a#0', { kwargs: { dataReceived: {} } });
    const b = await expectFinished(s, 't_b#0', {
      kwargs: { t_a: { foo: 'bar', kwargs: { dataReceived: {}, hacked: true } } },
    });
    expect(b.kwargs).toEqual({ t_a: { kwargs: { dataReceived: {} } } });
  });

  it('lets the fired value win at every level of nesting', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['go'],
        run: 'passThru',
        withParams: {
          go: {
            mode: 'static',
            keep: 'me',
            deep: { level: 'static', only: 'static', deeper: { x: 'static', y: 'static' } },
          },
        },
      },
    });

    await fireAndSettle(rt, s, 'go', {
      mode: 'fired',
      deep: { level: 'fired', deeper: { x: 'fired' } },
    });

    await expectFinished(s, 't_alpha#0', {
      kwargs: {
        go: {
          mode: 'fired',
          keep: 'me',
          deep: { level: 'fired', only: 'static', deeper: { x: 'fired', y: 'static' } },
        },
      },
    });
  });

  it('replaces arrays and other non-objects instead of merging them', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['go'],
        run: 'passThru',
        withParams: {
          go: {
            list: [1, 2, 3],
            nested: { list: ['a', 'b'] },
            objectBecomesScalar: { a: 1 },
            scalarBecomesObject: 5,
            nullable: { a: 1 },
          },
        },
      },
    });

    await fireAndSettle(rt, s, 'go', {
      list: [9],
      nested: { list: [] },
      objectBecomesScalar: 'plain',
      scalarBecomesObject: { b: 2 },
      nullable: null,
    });

    await expectFinished(s, 't_alpha#0', {
      kwargs: {
        go: {
          list: [9],
          nested: { list: [] },
          objectBecomesScalar: 'plain',
          scalarBecomesObject: { b: 2 },
          nullable: null,
        },
      },
    });
  });

  it('passes keys that are not triggers as they are, next to every applied trigger', async () => {
    const { rt, s } = await startSession({
      t_alpha: {
        after: ['one', 'two'],
        run: 'passThru',
        withParams: {
          one: { fromConfig: true },
          settings: { model: 'v2', thresholds: [0.1, 0.5] },
        },
      },
    });

    await s.fire('one', { a: 1 });
    await s.fire('two', { b: 2 });
    await rt.settle();

    const instance = await expectFinished(s, 't_alpha#0', {
      kwargs: {
        one: { a: 1, fromConfig: true },
        two: { b: 2 },
        settings: { model: 'v2', thresholds: [0.1, 0.5] },
      },
    });
    expect(instance.kwargs).toEqual({ one: { a: 1 }, two: { b: 2 } });
  });

  it('is not changed by a handler that mutates its kwargs', async () => {
    const seen: Kwargs[] = [];
    const { rt, s } = await startSession(
      {
        t_alpha: {
          after: [],
          andEvery: 'tick',
          run: 'mutate',
          withParams: { shared: { count: 0 } },
        },
      },
      {
        mutate: (ctx) => {
          seen.push(structuredClone(ctx.kwargs));
          (ctx.kwargs.shared as { count: number }).count += 1;
          return {};
        },
      },
    );

    await fireAndSettle(rt, s, 'tick');
    await fireAndSettle(rt, s, 'tick');

    await expectFinished(s, 't_alpha#1', {});
    expect(seen).toEqual([
      { tick: {}, shared: { count: 0 } },
      { tick: {}, shared: { count: 0 } },
    ]);
  });
});
