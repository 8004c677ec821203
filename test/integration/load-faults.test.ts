/**
 * Load with faults on DynamoDB Local and the SQS emulator: 200 sessions of 10 events each, all
 * sent at once through the test runtime's fire path, with 5% of the events delivered twice (the
 * same event id again) and about 1% of the calls at the seven fault points crashing. Every
 * session must settle with no event lost, no outcome or cascade doubled, and nothing left
 * unresolved. The figures are printed on one line and written to a JSON file in the temp dir.
 *
 * `TRIGGERS_LOAD_SESSIONS` and `TRIGGERS_LOAD_PAGES` change the size (default 200 sessions, 8
 * pages: 10 events per session); `TRIGGERS_LOAD_SEED` the seed of duplicates and crashes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FaultSite } from '../../lib/core/faults.ts';
import type { Kwargs, TaskConfig, TaskHandler, TaskInstance } from '../../lib/index.ts';
import { Retry, Skip } from '../../lib/index.ts';
import { createTestRuntime, type FaultPoint, InjectedFault } from '../../lib/testing/index.ts';

const SESSIONS = Number(process.env.TRIGGERS_LOAD_SESSIONS ?? 200);
const PAGES = Number(process.env.TRIGGERS_LOAD_PAGES ?? 8);
const SEED = Number(process.env.TRIGGERS_LOAD_SEED ?? 20_260_101);
const DUPLICATE_RATE = 0.05;
const CRASH_RATE = 0.01;

/**
 * One session: `start`, `PAGES` × `page` and `done`. Every page gets a `t_page` instance (page 3
 * skips itself, page 4 retries once), each finished page cascades into one `t_collect`
 * instance, `t_summary` waits for `start` and `done`, `t_final` for `t_summary`; `seen_start`
 * and `seen_done` count how often those two were applied.
 */
const WORKFLOW: Record<string, TaskConfig> = {
  t_start: { after: ['start'], run: 'begin' },
  t_page: { after: ['start'], andEvery: 'page', run: 'importPage' },
  t_collect: { after: [], andEvery: 't_page', run: 'collect' },
  t_summary: { after: ['start', 'done'], run: 'summarize' },
  t_final: { after: ['t_summary'], unless: ['abort'], run: 'finalize' },
  seen_start: { after: [], andEvery: 'start', run: 'observe' },
  seen_done: { after: [], andEvery: 'done', run: 'observe' },
};

const SKIPPED_PAGE = 3;
const RETRIED_PAGE = 4;

/** The entries of a tally, sorted by key, so two tallies compare as text. */
function sorted(tally: Record<string, number>): Array<[string, number]> {
  return Object.entries(tally).sort(([a], [b]) => (a < b ? -1 : 1));
}

/** A small, seeded generator (mulberry32): the same seed gives the same duplicates. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic number in [0, 1) for a text and the seed (FNV-1a). */
function chance(text: string): number {
  let h = 0x811c9dc5 ^ SEED;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Crashes about `CRASH_RATE` of the calls at every fault point. Whether a call crashes depends
 * only on the seed, the point, the site and how often that site was reached before, so a call
 * that comes again after a crash has a fresh chance.
 */
function randomCrashes() {
  const visits = new Map<string, number>();
  const crashed: Array<{ point: FaultPoint; site: FaultSite }> = [];
  const hook = (point: FaultPoint, site: FaultSite) => {
    const key = `${point}|${site.sessionId}|${site.instance ?? ''}|${site.eventId ?? ''}`;
    const visit = (visits.get(key) ?? 0) + 1;
    visits.set(key, visit);
    if (chance(`${key}|${visit}`) < CRASH_RATE) {
      crashed.push({ point, site });
      throw new InjectedFault(point);
    }
  };
  return { hook, crashed, calls: () => [...visits.values()].reduce((a, b) => a + b, 0) };
}

describe(`load with faults: ${SESSIONS} sessions × ${PAGES + 2} events`, () => {
  it('loses no event, doubles no outcome or cascade, and settles every session', async () => {
    const calls = new Map<string, number>();
    const count =
      (handler: TaskHandler): TaskHandler =>
      (ctx) => {
        const key = `${ctx.sessionId}/${ctx.instance}`;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return handler(ctx);
      };
    const handlers: Record<string, TaskHandler> = {
      begin: count(({ kwargs }) => ({ began: kwargs.start?.n })),
      importPage: count(({ kwargs, attempt }) => {
        const page = (kwargs.page as Kwargs).i as number;
        if (page === SKIPPED_PAGE) throw new Skip({ page });
        if (page === RETRIED_PAGE && attempt === 0) throw new Retry({ cooldownSeconds: 5 });
        return { page, attempt };
      }),
      collect: count(({ kwargs }) => ({ collected: (kwargs.t_page as Kwargs).page })),
      summarize: count(({ kwargs }) => ({ pages: (kwargs.done as Kwargs).pages })),
      finalize: count(() => ({ final: true })),
      observe: count(() => ({})),
    };
    const faults = randomCrashes();
    const random = prng(SEED);
    const rt = await createTestRuntime({
      workflow: WORKFLOW,
      handlers,
      backend: 'dynamodb-local',
      faults: faults.hook,
    });
    const started = performance.now();
    try {
      let sent = 0;
      let duplicatesSent = 0;
      let resent = 0;
      const fireOnce = async (sessionId: string, trigger: string, kwargs: Kwargs, id: string) => {
        for (let attempt = 0; ; attempt++) {
          sent += 1;
          try {
            await rt.session(sessionId).fire(trigger, kwargs, { eventId: id });
            return;
          } catch (err) {
            // As an HTTP client does: a fire that failed is sent again with its event id.
            if (!(err instanceof InjectedFault) || attempt >= 5) throw err;
            resent += 1;
          }
        }
      };
      const fires: Array<Promise<void>> = [];
      for (let s = 0; s < SESSIONS; s++) {
        const sessionId = `load-${s}`;
        const events: Array<[string, Kwargs]> = [
          ['start', { n: s }],
          ...Array.from({ length: PAGES }, (_, i): [string, Kwargs] => ['page', { i }]),
          ['done', { pages: PAGES }],
        ];
        events.forEach(([trigger, kwargs], k) => {
          const id = `${sessionId}-e${k}`;
          fires.push(fireOnce(sessionId, trigger, kwargs, id));
          if (random() < DUPLICATE_RATE) {
            duplicatesSent += 1;
            fires.push(fireOnce(sessionId, trigger, kwargs, id));
          }
        });
      }
      await Promise.all(fires);
      const acceptedAfterMs = performance.now() - started;
      await rt.settle({ timeoutMs: 840_000 });
      const settledAfterMs = performance.now() - started;

      // Prepare the expectations: what every session must hold, and the runs of each handler.
      const retriedPages = RETRIED_PAGE < PAGES ? 1 : 0;
      const skippedPages = SKIPPED_PAGE < PAGES ? 1 : 0;
      const finishedPages = PAGES - skippedPages;
      const expectedStatuses = (): Record<string, number> => ({
        't_start:finished': 1,
        't_page:finished': finishedPages,
        ...(skippedPages > 0 ? { 't_page:skipped': skippedPages } : {}),
        ...(retriedPages > 0 ? { 't_page:replayed': retriedPages } : {}),
        't_collect:finished': finishedPages,
        't_summary:finished': 1,
        't_final:finished': 1,
        'seen_start:finished': 1,
        'seen_done:finished': 1,
      });
      const rerunByCrash = new Map<string, number>();
      for (const c of faults.crashed) {
        if (c.point === 'task.afterHandler' && c.site.instance !== undefined) {
          const key = `${c.site.sessionId}/${c.site.instance}`;
          rerunByCrash.set(key, (rerunByCrash.get(key) ?? 0) + 1);
        }
      }

      let instancesFinished = 0;
      let instancesTotal = 0;
      let handlerRuns = 0;
      let lostEvents = 0;
      let doubledEvents = 0;
      let extraHandlerRuns = 0;
      let doubledCascades = 0;
      let unsettledSessions = 0;
      const problems: string[] = [];
      const allPages = Array.from({ length: PAGES }, (_, i) => i);
      for (let s = 0; s < SESSIONS; s++) {
        const sessionId = `load-${s}`;
        const session = rt.session(sessionId);
        const instances: TaskInstance[] = await session.instances();
        instancesTotal += instances.length;
        const statuses: Record<string, number> = {};
        for (const i of instances) {
          const key = `${i.task}:${i.status}`;
          statuses[key] = (statuses[key] ?? 0) + 1;
          if (i.status === 'finished') instancesFinished += 1;
          // Each instance's handler reached one recorded outcome: it ran once, plus once for
          // each crash between its handler and its commit.
          const ran = calls.get(`${sessionId}/${i.name}`) ?? 0;
          handlerRuns += ran;
          const expectedRuns = 1 + (rerunByCrash.get(`${sessionId}/${i.name}`) ?? 0);
          if (ran > expectedRuns) extraHandlerRuns += ran - expectedRuns;
          if (ran !== expectedRuns) {
            problems.push(`${sessionId} ${i.name}: handler ran ${ran}×, expected ${expectedRuns}`);
          }
        }
        if (JSON.stringify(sorted(statuses)) !== JSON.stringify(sorted(expectedStatuses()))) {
          problems.push(`${sessionId} statuses: ${JSON.stringify(sorted(statuses))}`);
        }

        // Every accepted event applied once: each page to its own t_page instance, start and
        // done each to one observer instance.
        const applied = [
          ...instances
            .filter((i) => i.task === 't_page' && i.attempt === 0)
            .map((i) => `page ${(i.kwargs.page as Kwargs).i}`),
          ...instances.filter((i) => i.task === 'seen_start').map(() => 'start'),
          ...instances.filter((i) => i.task === 'seen_done').map(() => 'done'),
        ];
        const expected = ['start', 'done', ...allPages.map((i) => `page ${i}`)];
        const distinct = new Set(applied);
        lostEvents += expected.filter((e) => !distinct.has(e)).length;
        doubledEvents += applied.length - distinct.size;
        if (distinct.size !== expected.length || applied.length !== expected.length) {
          problems.push(`${sessionId} applied events: ${applied.sort().join(', ')}`);
        }
        // One cascade per finished page: the collected pages are the finished ones, once each.
        const collected = instances
          .filter((i) => i.task === 't_collect')
          .map((i) => Number((i.kwargs.t_page as Kwargs).page))
          .sort((a, b) => a - b);
        const finished = allPages.filter((i) => i !== SKIPPED_PAGE);
        doubledCascades += Math.max(0, collected.length - new Set(collected).size);
        if (JSON.stringify(collected) !== JSON.stringify(finished)) {
          problems.push(`${sessionId} cascades of t_page: ${collected.join(', ')}`);
        }
        const unresolved = await session.unresolvedInstances();
        if (unresolved.length > 0) {
          unsettledSessions += 1;
          problems.push(`${sessionId} unresolved: ${unresolved.join(', ')}`);
        }
      }
      const strayCalls = [...calls.keys()].filter((k) => !k.startsWith('load-'));

      const figures = {
        sessions: SESSIONS,
        eventsPerSession: PAGES + 2,
        distinctEvents: SESSIONS * (PAGES + 2),
        duplicatesSent,
        firesSent: sent,
        firesResentAfterCrash: resent,
        faultPointCalls: faults.calls(),
        crashesInjected: faults.crashed.length,
        crashesByPoint: Object.fromEntries(
          [...new Set(faults.crashed.map((c) => c.point))]
            .sort()
            .map((p) => [p, faults.crashed.filter((c) => c.point === p).length]),
        ),
        instances: instancesTotal,
        instancesFinished,
        handlerRuns,
        lostEvents,
        doubledEvents,
        extraHandlerRuns,
        doubledCascades,
        unsettledSessions,
        acceptedAfterSeconds: Math.round(acceptedAfterMs / 100) / 10,
        wallSeconds: Math.round(settledAfterMs / 100) / 10,
        seed: SEED,
      };
      const file = join(mkdtempSync(join(tmpdir(), 'triggers-load-')), 'load-faults.json');
      writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
      console.log(`load-faults: ${JSON.stringify(figures)} (written to ${file})`);

      expect(problems.slice(0, 20), `${problems.length} problem(s)`).toEqual([]);
      expect(strayCalls, 'handler calls outside the sessions').toEqual([]);
      expect({
        lostEvents,
        doubledEvents,
        extraHandlerRuns,
        doubledCascades,
        unsettledSessions,
      }).toEqual({
        lostEvents: 0,
        doubledEvents: 0,
        extraHandlerRuns: 0,
        doubledCascades: 0,
        unsettledSessions: 0,
      });
      // The run did inject what it is about.
      expect(figures.crashesInjected).toBeGreaterThan(0);
      expect(duplicatesSent).toBeGreaterThan(0);
    } finally {
      await rt.close();
    }
  }, 900_000);
});
