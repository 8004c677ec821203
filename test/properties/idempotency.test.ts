import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kwargs, TaskConfig } from '../../lib/index.ts';
import { createTestRuntime } from '../../lib/testing/index.ts';
import { fireSequenceArb, handlers, workflowArb } from './arbitraries.ts';

type Fire = { trigger: string; kwargs: Kwargs; eventId: string; replay: boolean };

async function run(workflow: Record<string, TaskConfig>, fires: Fire[], withDuplicates: boolean) {
  const rt = await createTestRuntime({ workflow, handlers });
  try {
    const s = rt.session('prop');
    for (const f of fires) {
      if (f.replay && !withDuplicates) continue;
      await s.fire(f.trigger, f.kwargs, { eventId: f.eventId });
      // Settling after each fire fixes where cascades land, so the two runs see one order.
      await rt.settle();
    }
    return s.instances();
  } finally {
    await rt.close();
  }
}

describe('event ids', () => {
  it('make re-firing an event a no-op, whatever its kwargs and whenever it comes again', async () => {
    await fc.assert(
      fc.asyncProperty(
        workflowArb({ unless: true }),
        fireSequenceArb,
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.nat(),
            fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
          ),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        async (workflow, sequence, repeats) => {
          const fires: Fire[] = sequence.map((f, i) => ({
            ...f,
            eventId: `ev-${i}`,
            replay: false,
          }));
          for (const [which, where, kwargs] of repeats) {
            const original = fires.filter((f) => !f.replay)[which % sequence.length] as Fire;
            const at =
              fires.indexOf(original) + 1 + (where % (fires.length - fires.indexOf(original)));
            // The same id again, with other kwargs and even another trigger name.
            fires.splice(at, 0, {
              trigger: original.trigger === 'a' ? 'b' : 'a',
              kwargs,
              eventId: original.eventId,
              replay: true,
            });
          }
          const once = await run(workflow, fires, false);
          const withRepeats = await run(workflow, fires, true);
          expect(withRepeats.map((i) => [i.name, i.status, i.kwargs, i.result])).toEqual(
            once.map((i) => [i.name, i.status, i.kwargs, i.result]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
