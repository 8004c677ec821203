/**
 * The example app module: what the CDK example stack deploys and what `npm start` serves by
 * default. Any app module has this shape: `{ workflows, handlers, defaultWorkflow? }`.
 * May import: the package's entry points (lib/index.ts, lib/testing/index.ts) and its siblings.
 *
 * @module
 */
import type { TaskHandler, Workflow } from '../../lib/index.ts';
import { handlers as surveyHandlers } from './handlers.ts';
import { survey } from './workflow.ts';

/**
 * The workflows sessions can run.
 *
 * @example
 * import { workflows } from './app.ts';
 */
export const workflows: Workflow[] = [survey];

/**
 * The task handlers, by the names tasks `run`.
 *
 * @example
 * import { handlers } from './app.ts';
 */
export const handlers: Record<string, TaskHandler> = surveyHandlers;

/**
 * The workflow a session gets when its first event names none.
 *
 * @example
 * import { defaultWorkflow } from './app.ts';
 */
export const defaultWorkflow: string = survey.name;
