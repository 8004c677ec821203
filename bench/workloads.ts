/**
 * The workflows the benchmark runs and the events each session fires.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { handlers as surveyHandlers } from '../examples/survey/handlers.ts';
import { survey } from '../examples/survey/workflow.ts';
import { defineWorkflow } from '../lib/index.ts';
import type { Kwargs, TaskHandler, Workflow } from '../lib/types.ts';

/** One event a session fires. */
export interface ScriptedEvent {
  trigger: string;
  kwargs?: Kwargs;
  /**
   * Instances whose last required trigger this event is, when the session's events are fired
   * one at a time: the latency stage measures from its acceptance to their handlers' start.
   */
  readies?: readonly string[];
}

/** A workflow, its handlers, and the events of one session. */
export interface Workload {
  /** A short name for tables and charts. */
  name: string;
  /** What a session does, in words. */
  description: string;
  workflow: Workflow;
  handlers: Record<string, TaskHandler>;
  /** The session's events, fired in this order. */
  events: ScriptedEvent[];
  /**
   * Handler-to-handler links (`to` waits for `from`'s outcome and nothing else still to come):
   * the latency stage measures from `from`'s handler returning to `to`'s handler starting.
   */
  cascades?: ReadonlyArray<{ from: string; to: string }>;
}

/** About 200 bytes of kwargs, as an application might send with a trigger. */
function orderKwargs(trigger: string): Kwargs {
  return {
    trigger,
    customer: 'c-10293',
    items: [
      { sku: 'A-100', qty: 2 },
      { sku: 'B-220', qty: 1 },
    ],
    channel: 'web',
    note: 'left at the front desk',
    requestedAt: '2026-11-27T10:00:00Z',
  };
}

/**
 * The simple session: two triggers, one task (`t_a` after `x` and `y`), about 200 bytes of kwargs
 * per trigger.
 *
 * @example
 * const w = simpleWorkload();
 */
export function simpleWorkload(): Workload {
  return {
    name: 'simple',
    description: 't_a after x and y; x and y fired with ~200 B of kwargs each',
    workflow: defineWorkflow('simple', { t_a: { after: ['x', 'y'], run: 'work' } }),
    handlers: { work: ({ kwargs }) => ({ ok: true, customer: kwargs.x?.customer ?? null }) },
    events: [
      { trigger: 'x', kwargs: orderKwargs('x') },
      { trigger: 'y', kwargs: orderKwargs('y'), readies: ['t_a#0'] },
    ],
  };
}

/**
 * The chain session: one trigger, two tasks in a row (`t_a` after `go`, `t_b` after `t_a`), so
 * that the second handler waits for the first one's outcome (a cascade).
 *
 * @example
 * const w = chainWorkload();
 */
export function chainWorkload(): Workload {
  return {
    name: 'chain',
    description: 't_a after go, t_b after t_a; go fired with ~200 B of kwargs',
    workflow: defineWorkflow('chain', {
      t_a: { after: ['go'], run: 'fetch' },
      t_b: { after: ['t_a'], run: 'store' },
    }),
    handlers: {
      fetch: ({ kwargs }) => ({ fetched: true, customer: kwargs.go?.customer ?? null }),
      store: ({ kwargs }) => ({ stored: kwargs.t_a?.customer ?? null }),
    },
    events: [{ trigger: 'go', kwargs: orderKwargs('go'), readies: ['t_a#0'] }],
    cascades: [{ from: 't_a#0', to: 't_b#0' }],
  };
}

/**
 * The example survey session (`examples/survey`): step4, step1 with a subject, three pages of
 * answers, then sessionFinalized. Six tasks run: importSubject, browserMeta, three
 * importResponses and score.
 *
 * @example
 * const w = surveyWorkload();
 */
export function surveyWorkload(): Workload {
  const pages = [1, 2, 3].map((page) => ({
    trigger: 'pageReceived',
    kwargs: { page, answers: [3, 5, 2, 4, 1].map((a) => (a + page) % 6) },
    readies: [`t_importResponses#${page - 1}`],
  }));
  return {
    name: 'survey',
    description:
      'examples/survey: step4, step1 (subject, user agent), 3 x pageReceived, sessionFinalized',
    workflow: survey,
    handlers: surveyHandlers,
    events: [
      { trigger: 'step4' },
      {
        trigger: 'step1',
        kwargs: { subjectId: 'subj-4711', userAgent: 'Mozilla/5.0 (bench)' },
        readies: ['t_importSubject#0', 't_browserMeta#0'],
      },
      ...pages,
      {
        trigger: 'sessionFinalized',
        kwargs: { finishedAt: '2026-11-27T10:15:00Z' },
        readies: ['t_score#0'],
      },
    ],
  };
}

/**
 * The andEvery workflow: one `t_page` instance per `page` event, after `start`.
 *
 * @example
 * const rt = await BenchRuntime.start({ workflow: pagesWorkflow, handlers: pagesHandlers, emulators });
 */
export const pagesWorkflow: Workflow = defineWorkflow('pages', {
  t_page: { after: ['start'], andEvery: 'page', run: 'page' },
});

/**
 * The andEvery workflow's handler: a small result per page.
 *
 * @example
 * const rt = await BenchRuntime.start({ workflow: pagesWorkflow, handlers: pagesHandlers, emulators });
 */
export const pagesHandlers: Record<string, TaskHandler> = {
  page: ({ kwargs }) => ({ page: kwargs.page?.page ?? null, ok: true }),
};

/**
 * The kwargs of page `n`.
 *
 * @example
 * await rt.fire('s1', 'page', pageKwargs(7));
 */
export const pageKwargs = (n: number): Kwargs => ({ page: n, answers: [n % 5, (n * 7) % 5, 3] });
