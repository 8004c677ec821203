/**
 * The task handlers of the example survey app. They stand in for real imports and scoring:
 * each reads its kwargs, logs, and returns the result its cascade carries.
 * May import: the package's entry points (lib/index.ts, lib/testing/index.ts) and its siblings.
 *
 * @module
 */
import { Skip, type TaskHandler } from '../../lib/index.ts';

const field = (kwargs: Record<string, unknown> | undefined, key: string): unknown =>
  kwargs === undefined ? undefined : kwargs[key];

/**
 * The survey's task handlers, by the names its tasks `run`.
 *
 * @example
 * const rt = await createTestRuntime({ workflow: survey, handlers });
 */
export const handlers: Record<string, TaskHandler> = {
  importSubject: ({ kwargs, logger }) => {
    const subjectId = field(kwargs.step1, 'subjectId');
    // A step1 without a subject cannot be imported: the instance fails, and an operator
    // replays it with the subject (`triggers replay s1 't_importSubject#0' --kwargs ...`)
    // or skips it.
    if (typeof subjectId !== 'string' || subjectId.length === 0) {
      throw new Error('step1 carried no subjectId: nothing to import');
    }
    logger.info('importing the subject', { subjectId });
    return { subjectId };
  },
  importResponses: ({ kwargs, logger }) => {
    const page = field(kwargs.pageReceived, 'page') ?? null;
    const answers = field(kwargs.pageReceived, 'answers');
    if (!Array.isArray(answers) || answers.length === 0) throw new Skip({ reason: 'empty page' });
    logger.info('importing a page of responses', { page, answers: answers.length });
    return { page, imported: answers.length };
  },
  browserMeta: ({ kwargs }) => ({
    userAgent: field(kwargs.step1, 'userAgent') ?? null,
  }),
  score: ({ kwargs, logger }) => {
    const model = field(kwargs.model, 'name');
    const subjectId = field(kwargs.t_importSubject, 'subjectId') ?? null;
    logger.info('scoring', { model, subjectId });
    return { model, subjectId, score: 0 };
  },
};
