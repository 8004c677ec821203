/**
 * The survey smoke test: drives a deployed (or local) stack that serves the example survey app
 * through its HTTP API and checks that every flow works end to end.
 * May import: the package's entry points (lib/index.ts, lib/testing/index.ts) and its siblings.
 *
 * @module
 */
import type { SessionView, TaskInstance, TriggersClient } from '../../lib/index.ts';

/** Options of `runSurveySmoke`. */
export interface SmokeOptions {
  /** A client of the stack's HTTP API. */
  client: TriggersClient;
  /** Prefix of the three session ids; make it unique per run. */
  prefix: string;
  /** How long to wait for each session to reach its expected state. @default 120000 */
  timeoutMs?: number;
  /** How often to read a session while waiting. @default 1000 */
  pollMs?: number;
  /** Progress, one line at a time. */
  log?: (line: string) => void;
}

/** One check and how it went. */
export interface SmokeCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/** What a smoke run found. */
export interface SmokeReport {
  ok: boolean;
  sessions: string[];
  checks: SmokeCheck[];
  durationMs: number;
}

type Expectation = Record<string, (i: TaskInstance | undefined) => string | undefined>;

/** `undefined` when the instance is in `status` (and passes `more`), else what is wrong. */
function expectStatus(
  status: TaskInstance['status'],
  more?: (i: TaskInstance) => string | undefined,
): (i: TaskInstance | undefined) => string | undefined {
  return (i) => {
    if (!i) return 'no such instance yet';
    if (i.status !== status) return `is ${i.status}, expected ${status}`;
    return more?.(i);
  };
}

function pageOf(i: TaskInstance): unknown {
  return (i.kwargs.pageReceived as { page?: unknown } | undefined)?.page;
}

/** The instances of a session, found by a key (an instance name, or `page=N`). */
function lookup(view: SessionView | undefined, key: string): TaskInstance | undefined {
  const page = /^t_importResponses page=(\d+)$/.exec(key);
  if (page) {
    return view?.instances.find(
      (i) => i.task === 't_importResponses' && pageOf(i) === Number(page[1]),
    );
  }
  return view?.instances.find((i) => i.name === key);
}

function problems(view: SessionView | undefined, expected: Expectation): string[] {
  return Object.entries(expected).flatMap(([key, check]) => {
    const wrong = check(lookup(view, key));
    return wrong === undefined ? [] : [`${key} ${wrong}`];
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fires the survey's events into three fresh sessions and waits until each reaches the state
 * the survey workflow promises. Never throws for a failed check: the report says what failed.
 *
 * The checks cover every flow: ingestion and idempotency, the evaluator's cascades and
 * `andEvery`, the dispatch to the task queues, a `Skip` from a handler, a failed instance
 * replayed with replacement kwargs, and one skipped with a cascade.
 * `npm run smoke -- --api-url URL` runs it (`scripts/smoke.ts`).
 *
 * @example
 * const report = await runSurveySmoke({ client: new TriggersClient({ apiUrl }), prefix: 'smoke-1' });
 * if (!report.ok) process.exitCode = 1;
 */
export async function runSurveySmoke(opts: SmokeOptions): Promise<SmokeReport> {
  const { client, prefix } = opts;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const pollMs = opts.pollMs ?? 1000;
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const checks: SmokeCheck[] = [];
  const check = (name: string, wrong: string | undefined) => {
    checks.push(wrong === undefined ? { name, ok: true } : { name, ok: false, detail: wrong });
    log(`${wrong === undefined ? 'ok  ' : 'FAIL'} ${name}${wrong ? `: ${wrong}` : ''}`);
  };

  /** Waits for a session to meet `expected`; records one check with what was still wrong. */
  const waitFor = async (name: string, session: string, expected: Expectation) => {
    const deadline = Date.now() + timeoutMs;
    let wrong: string[] = ['not read yet'];
    let view: SessionView | undefined;
    while (Date.now() <= deadline) {
      view = await client.getSession(session);
      wrong = problems(view, expected);
      if (wrong.length === 0) break;
      await sleep(pollMs);
    }
    check(name, wrong.length === 0 ? undefined : `after ${timeoutMs} ms: ${wrong.join('; ')}`);
    return view;
  };

  const happy = `${prefix}-happy`;
  const replay = `${prefix}-replay`;
  const skip = `${prefix}-skip`;

  // 1. The whole survey, out of order, with a duplicate delivery and an empty page.
  log(`session ${happy}: the survey, out of order, with a duplicate and an empty page`);
  await client.fire(happy, 'step4');
  const step1 = { subjectId: `${prefix}-subject`, userAgent: 'triggers-smoke' };
  const first = await client.fire(happy, 'step1', step1, { eventId: `${happy}-step1` });
  const again = await client.fire(happy, 'step1', step1, { eventId: `${happy}-step1` });
  check(
    'a repeated event id is accepted once',
    !first.duplicate && again.duplicate
      ? undefined
      : `duplicate flags ${first.duplicate}, ${again.duplicate}`,
  );
  await client.fire(happy, 'pageReceived', { page: 1, answers: [3, 5] });
  await client.fire(happy, 'pageReceived', { page: 2, answers: [] });
  await client.fire(happy, 'sessionFinalized');
  const done = await waitFor('the survey runs every task, cascades included', happy, {
    't_importSubject#0': expectStatus('finished', (i) =>
      i.result?.subjectId === step1.subjectId ? undefined : `result ${JSON.stringify(i.result)}`,
    ),
    't_importResponses page=1': expectStatus('finished', (i) =>
      i.result?.imported === 2 ? undefined : `result ${JSON.stringify(i.result)}`,
    ),
    't_importResponses page=2': expectStatus('skipped'),
    't_browserMeta#0': expectStatus('finished'),
    't_score#0': expectStatus('finished', (i) =>
      i.result?.model === 'survey-v2' && i.result?.subjectId === step1.subjectId
        ? undefined
        : `result ${JSON.stringify(i.result)}`,
    ),
  });
  check(
    'step1 counted once',
    done?.fired.step1?.count === 1 ? undefined : `fired ${JSON.stringify(done?.fired.step1)}`,
  );
  const events = (await client.getEvents(happy)) ?? [];
  const fromApi = events.filter((e) => e.source === 'api').length;
  check(
    'the timeline lists the five accepted events and the cascades',
    fromApi === 5 && events.some((e) => e.source === 'cascade')
      ? undefined
      : `${fromApi} api events, ${events.length} in all`,
  );

  // 2. A failed instance, replayed with replacement kwargs.
  log(`session ${replay}: a step1 without a subject fails; the replay brings one`);
  await client.fire(replay, 'step1', {});
  await client.fire(replay, 'step4');
  await waitFor('an import without a subject fails', replay, {
    't_importSubject#0': expectStatus('failed'),
  });
  await client.replayFailed(replay, 't_importSubject#0', { step1: { subjectId: `${prefix}-b` } });
  await waitFor('the replay clones the instance and the clone finishes', replay, {
    't_importSubject#0': expectStatus('replayed'),
    't_importSubject#1': expectStatus('finished', (i) =>
      i.parent === 't_importSubject#0' ? undefined : `parent ${i.parent}`,
    ),
  });

  // 3. A failed instance, skipped with a cascade that carries a result.
  log(`session ${skip}: a failed import is skipped, cascading a result to the score`);
  await client.fire(skip, 'step1', {});
  await client.fire(skip, 'step4');
  await client.fire(skip, 'sessionFinalized');
  await waitFor('an import without a subject fails', skip, {
    't_importSubject#0': expectStatus('failed'),
  });
  await client.skipFailed(skip, 't_importSubject#0', {
    cascade: true,
    result: { subjectId: 'skipped' },
  });
  await waitFor('the skip cascades its result to the score', skip, {
    't_importSubject#0': expectStatus('skipped'),
    't_score#0': expectStatus('finished', (i) =>
      i.result?.subjectId === 'skipped' ? undefined : `result ${JSON.stringify(i.result)}`,
    ),
  });

  return {
    ok: checks.every((c) => c.ok),
    sessions: [happy, replay, skip],
    checks,
    durationMs: Date.now() - started,
  };
}
