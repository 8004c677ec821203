/**
 * The distributed property of `test/properties/distributed.test.ts`, on DynamoDB Local and the
 * SQS emulator: the stream pollers, queue pollers, conditional writes and transactions of the
 * DynamoDB backend, with the same generated workflows, schedules and crashes, checked against
 * the same oracle. A crash after a task was claimed costs a visibility timeout (18 s) of real
 * time, so several cases share one runtime (one session each, names prefixed) and their waits
 * overlap.
 *
 * `TRIGGERS_SOAK_RUNS=n` runs about n cases instead of the default (`npm run soak`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CRASH_INSIDE_HANDLER_FIRE_EXPECTED,
  checkRun,
  crashInsideHandlerFire,
  type DistributedCase,
  distributedCaseArb,
  replayParameters,
  runCases,
} from '../properties/distributed-case.ts';

const CASES_PER_RUNTIME = 5;
const SOAK_CASES = Number(process.env.TRIGGERS_SOAK_RUNS ?? 0);
const RUNS = Math.ceil((SOAK_CASES > 0 ? SOAK_CASES : 20) / CASES_PER_RUNTIME);

describe('the distributed property on DynamoDB Local', () => {
  it(
    `settles ${RUNS * CASES_PER_RUNTIME} generated sessions (${RUNS} runtimes of ${CASES_PER_RUNTIME}), with concurrent and duplicated fires, failing handlers and crashes, to outcomes the pure engine allows`,
    async () => {
      const crashes: Record<string, number> = {};
      let sessions = 0;
      let duplicates = 0;
      let tooManyOrders = 0;
      const started = performance.now();
      await fc.assert(
        fc.asyncProperty(
          fc.array(distributedCaseArb({ maxFires: 8, maxCrashes: 2 }), {
            minLength: CASES_PER_RUNTIME,
            maxLength: CASES_PER_RUNTIME,
          }),
          async (cases: DistributedCase[]) => {
            const runs = await runCases('dynamodb-local', cases, { settleTimeoutMs: 180_000 });
            for (const run of runs) {
              if (checkRun(run).outcomes === undefined) tooManyOrders += 1;
              sessions += 1;
              duplicates += run.duplicates;
              for (const c of run.crashed) crashes[c.point] = (crashes[c.point] ?? 0) + 1;
            }
          },
        ),
        { numRuns: RUNS, ...replayParameters() },
      );
      console.log(
        `distributed property (dynamodb-local): ${JSON.stringify({ sessions, duplicates, crashes, tooManyOrders, seconds: Math.round((performance.now() - started) / 1000) })}`,
      );
      expect(sessions).toBe(RUNS * CASES_PER_RUNTIME);
    },
    RUNS * 300_000,
  );

  it("retries a crash inside a handler's ctx.fire to completion instead of failing the instance", async () => {
    expect(await crashInsideHandlerFire('dynamodb-local')).toEqual(
      CRASH_INSIDE_HANDLER_FIRE_EXPECTED,
    );
  });
});
