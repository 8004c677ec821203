import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  InstanceStatus,
  Kwargs,
  TaskConfig,
  TaskContext,
  TaskHandler,
  TaskInstance,
  Workflow,
} from '../lib/index.ts';
import * as api from '../lib/index.ts';
import type { TestRuntime, TestSession } from '../lib/testing/index.ts';
import * as testing from '../lib/testing/index.ts';

describe('the public contract', () => {
  it('exports the runtime names of lib/index.ts', () => {
    for (const name of [
      'defineWorkflow',
      'TriggersClient',
      'taskHandler',
      'Retry',
      'Skip',
      'TriggersError',
      'WorkflowError',
      'ValidationError',
      'NotFoundError',
      'InstanceStateError',
    ]) {
      expect(api, name).toHaveProperty(name);
    }
    expect(testing).toHaveProperty('createTestRuntime');
  });

  it('keeps the shapes of the workflow definition', () => {
    expectTypeOf(api.defineWorkflow).toEqualTypeOf<
      (name: string, tasks: Record<string, TaskConfig>) => Workflow
    >();
    expectTypeOf<TaskConfig['after']>().toEqualTypeOf<string[]>();
    expectTypeOf<TaskConfig['andEvery']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<TaskConfig['withParams']>().toEqualTypeOf<Record<string, Kwargs> | undefined>();
    expectTypeOf<TaskConfig['maxRetries']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Workflow['tasks']>().toEqualTypeOf<Record<string, TaskConfig>>();
  });

  it('keeps the shapes of task instances and handlers', () => {
    expectTypeOf<InstanceStatus>().toEqualTypeOf<
      | 'unstarted'
      | 'scheduled'
      | 'running'
      | 'finished'
      | 'failed'
      | 'abandoned'
      | 'replayed'
      | 'skipped'
    >();
    expectTypeOf<TaskInstance['kwargs']>().toEqualTypeOf<Record<string, Kwargs>>();
    expectTypeOf<TaskInstance['attempt']>().toEqualTypeOf<number>();
    expectTypeOf<TaskContext['fire']>().toEqualTypeOf<
      (trigger: string, kwargs?: Kwargs) => Promise<void>
    >();
    expectTypeOf<ReturnType<typeof api.taskHandler>>().toEqualTypeOf<
      (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>
    >();
    expectTypeOf<Parameters<typeof api.taskHandler>[0]>().toEqualTypeOf<TaskHandler>();
  });

  it('keeps the shapes of the test runtime', () => {
    expectTypeOf<TestRuntime['settle']>().toEqualTypeOf<
      (opts?: { timeoutMs?: number }) => Promise<void>
    >();
    expectTypeOf<TestSession['fire']>().toEqualTypeOf<
      (trigger: string, kwargs?: Kwargs, opts?: { eventId?: string }) => Promise<void>
    >();
    expectTypeOf<TestSession['unresolvedTasks']>().toEqualTypeOf<() => Promise<string[]>>();
    expectTypeOf<TestSession['skipFailed']>().toEqualTypeOf<
      (instance: string, opts?: { cascade?: boolean; result?: Kwargs }) => Promise<void>
    >();
  });
});
