/**
 * The survey workflow of the example app: the seed's survey, as the README describes it.
 * May import: the package's entry points (lib/index.ts, lib/testing/index.ts) and its siblings.
 *
 * @module
 */
import { defineWorkflow } from '../../lib/index.ts';

/**
 * Import the subject once `step1` and `step4` fired (in any order); import each page's
 * responses after that; record browser metadata unless the survey runs in the embedded app;
 * score the survey once the subject is imported and the session is finalized.
 *
 * @example
 * const rt = await createTestRuntime({ workflow: survey, handlers });
 */
export const survey = defineWorkflow('survey', {
  t_importSubject: { after: ['step1', 'step4'], run: 'importSubject' },
  t_importResponses: {
    after: ['t_importSubject'],
    andEvery: 'pageReceived',
    run: 'importResponses',
  },
  t_browserMeta: { after: ['step1'], unless: ['isEmbeddedApp'], run: 'browserMeta' },
  t_score: {
    after: ['t_importSubject', 'sessionFinalized'],
    run: 'score',
    withParams: { model: { name: 'survey-v2' } },
    maxRetries: 5,
  },
});
