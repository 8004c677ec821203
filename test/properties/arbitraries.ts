import fc from 'fast-check';
import type { Kwargs, TaskConfig, TaskHandler } from '../../lib/index.ts';

/** The outside triggers generated workflows use. */
export const EXTERNAL_TRIGGERS = ['a', 'b', 'c', 'd', 'e'] as const;

const kwargsArb: fc.Arbitrary<Kwargs> = fc.dictionary(
  fc.constantFrom('x', 'y', 'z', 'nested'),
  fc.oneof(
    fc.integer(),
    fc.string({ maxLength: 4 }),
    fc.boolean(),
    fc.dictionary(fc.constantFrom('p', 'q'), fc.integer(), { maxKeys: 2 }),
  ),
  { maxKeys: 3 },
);

/**
 * Workflows of 1 to 6 tasks, `t0`..`tN`: each `after` is a non-empty set of outside triggers and
 * earlier tasks (so cascades form no cycle), with an optional `andEvery` and `withParams`.
 * `unless` only when asked.
 */
export function workflowArb(opts: { unless: boolean }): fc.Arbitrary<Record<string, TaskConfig>> {
  return fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc
      .tuple(
        ...Array.from({ length: n }, (_, i) => {
          const pool = [...EXTERNAL_TRIGGERS, ...Array.from({ length: i }, (_, j) => `t${j}`)];
          return fc.record({
            after: fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }),
            andEvery: fc.option(fc.constantFrom(...pool), { nil: undefined }),
            unless: opts.unless
              ? fc.option(
                  fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 2 }),
                  {
                    nil: undefined,
                  },
                )
              : fc.constant(undefined),
            withParams: fc.option(
              fc.dictionary(fc.constantFrom(...pool, 'extra'), kwargsArb, { maxKeys: 2 }),
              {
                nil: undefined,
              },
            ),
          });
        }),
      )
      .map((tasks) =>
        Object.fromEntries(
          tasks.map((t, i) => {
            const config: TaskConfig = { after: t.after, run: 'passThru' };
            if (t.andEvery !== undefined) config.andEvery = t.andEvery;
            if (t.unless !== undefined) config.unless = t.unless;
            if (t.withParams !== undefined) config.withParams = t.withParams;
            return [`t${i}`, config];
          }),
        ),
      ),
  );
}

/** Every outside trigger fired once, each with its own kwargs. */
export const fireOnceArb: fc.Arbitrary<Array<{ trigger: string; kwargs: Kwargs }>> = fc
  .tuple(...EXTERNAL_TRIGGERS.map(() => kwargsArb))
  .map((all) => EXTERNAL_TRIGGERS.map((trigger, i) => ({ trigger, kwargs: all[i] as Kwargs })));

/** A sequence of fires of outside triggers, repeats allowed, each with an event id. */
export const fireSequenceArb = fc.array(
  fc.record({ trigger: fc.constantFrom(...EXTERNAL_TRIGGERS), kwargs: kwargsArb }),
  { minLength: 1, maxLength: 12 },
);

/** The handler every generated task runs: it returns its kwargs, so cascades carry them. */
export const handlers: Record<string, TaskHandler> = {
  passThru: (ctx) => ({ kwargs: ctx.kwargs }),
};
