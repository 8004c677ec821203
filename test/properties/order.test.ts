import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TaskConfig, TaskInstance } from '../../lib/index.ts';
import { createTestRuntime } from '../../lib/testing/index.ts';
import { fireOnceArb, handlers, workflowArb } from './arbitraries.ts';

/** What must not depend on order: each instance's status, applied kwargs and result. */
function outcome(instances: TaskInstance[]) {
  return Object.fromEntries(
    instances.map((i) => [i.name, { status: i.status, kwargs: i.kwargs, result: i.result }]),
  );
}

async function run(
  workflow: Record<string, TaskConfig>,
  fires: Array<{ trigger: string; kwargs: Record<string, unknown> }>,
) {
  const rt = await createTestRuntime({ workflow, handlers });
  try {
    const s = rt.session('prop');
    // No settle between fires: handlers and cascades run while later fires arrive.
    for (const f of fires) await s.fire(f.trigger, f.kwargs);
    await rt.settle();
    return {
      instances: outcome(await s.instances()),
      unresolvedTasks: await s.unresolvedTasks(),
      unresolvedInstances: await s.unresolvedInstances(),
    };
  } finally {
    await rt.close();
  }
}

describe('order of arrival', () => {
  it('does not change the final instances, statuses and kwargs when each trigger fires once and no task has unless', async () => {
    await fc.assert(
      fc.asyncProperty(
        workflowArb({ unless: false }),
        fireOnceArb.chain((fires) =>
          fc.tuple(fc.constant(fires), fc.shuffledSubarray(fires, { minLength: fires.length })),
        ),
        async (workflow, [fires, shuffled]) => {
          const inOrder = await run(workflow, fires);
          const permuted = await run(workflow, shuffled);
          expect(permuted).toEqual(inOrder);
        },
      ),
      { numRuns: 200 },
    );
  });
});
