/**
 * Properties of the manager API's rules in the pure engine: annotations (metadata, resolved
 * logs) never change a trigger decision, and a session's configuration is never retroactive
 * yet sees everything fired before it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apply,
  compileWorkflow,
  configureTasks,
  type Effect,
  initialState,
  type SessionState,
  type SessionStateEvent,
} from '../../lib/engine/index.ts';
import type { InstanceStatus } from '../../lib/types.ts';
import { EXTERNAL_TRIGGERS, fireSequenceArb, workflowArb } from './arbitraries.ts';

const AT = '2026-01-01T00:00:00.000Z';

/** What a run decided: every create, schedule and abandon, in order. */
function decisions(effects: readonly Effect[]): string[] {
  return effects.flatMap((e) =>
    e.type === 'create'
      ? [`create ${e.instance}`]
      : e.type === 'schedule' || e.type === 'abandon'
        ? [`${e.type} ${e.instance.name}`]
        : [],
  );
}

/** The state without what annotations leave in it (metadata of unstarted instances). */
function withoutAnnotations(state: SessionState): SessionState {
  const unstarted = Object.fromEntries(
    Object.entries(state.unstarted).map(([task, list]) => [
      task,
      list.map(({ metadata: _metadata, ...rest }) => rest),
    ]),
  );
  return { ...state, unstarted };
}

const annotationArb = fc.record({
  /** Before which fire it goes (past the end: after the last). */
  at: fc.nat({ max: 12 }),
  kind: fc.constantFrom('metadata' as const, 'resolve-logs' as const),
  task: fc.constantFrom('t0', 't1', 't2'),
  n: fc.nat({ max: 2 }),
  observed: fc.option(
    fc.constantFrom<InstanceStatus>('scheduled', 'running', 'finished', 'failed', 'skipped'),
    { nil: undefined },
  ),
});

describe('manager API properties (pure engine)', () => {
  it('annotations anywhere in a session change no create, schedule or abandon decision', () => {
    fc.assert(
      fc.property(
        workflowArb({ unless: true }),
        fireSequenceArb,
        fc.array(annotationArb, { maxLength: 6 }),
        (tasks, fires, annotations) => {
          const wf = compileWorkflow({ name: 'prop', tasks });
          const fireEvents: SessionStateEvent[] = fires.map((f, i) => ({
            type: 'fire',
            eventId: `e${i}`,
            trigger: f.trigger,
            at: AT,
          }));
          const annotated: SessionStateEvent[] = [];
          fireEvents.forEach((fire, i) => {
            for (const [j, a] of annotations.entries()) {
              if (a.at !== i) continue;
              const base = {
                eventId: `m${j}`,
                instance: `${a.task}#${a.n}`,
                ...(a.observed ? { observed: { status: a.observed, task: a.task } } : {}),
                at: AT,
              };
              annotated.push(
                a.kind === 'metadata'
                  ? { type: 'metadata', ...base, metadata: { note: j } }
                  : { type: 'resolve-logs', ...base },
              );
            }
            annotated.push(fire);
          });
          const run = (events: SessionStateEvent[]) => {
            let state = initialState(wf);
            const effects: Effect[] = [];
            for (const e of events) {
              const applied = apply(wf, state, e);
              state = applied.state;
              effects.push(...applied.effects);
            }
            return { state, decided: decisions(effects) };
          };
          const plain = run(fireEvents);
          const withNotes = run(annotated);
          expect(withNotes.decided).toEqual(plain.decided);
          expect(withoutAnnotations(withNotes.state)).toEqual(plain.state);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a configured task is not run by earlier fires, and runs once a later fire completes its triggers', () => {
    fc.assert(
      fc.property(
        workflowArb({ unless: false }),
        fireSequenceArb,
        fireSequenceArb,
        fc.uniqueArray(fc.constantFrom(...EXTERNAL_TRIGGERS, 'late'), {
          minLength: 1,
          maxLength: 3,
        }),
        (tasks, before, afterwards, after) => {
          const wf = compileWorkflow({ name: 'prop', tasks });
          let state = initialState(wf);
          for (const [i, f] of before.entries()) {
            state = apply(wf, state, {
              type: 'fire',
              eventId: `b${i}`,
              trigger: f.trigger,
              at: AT,
            }).state;
          }
          // What the evaluator does with a configuration: a new version, nothing applied again.
          const configured = compileWorkflow(
            configureTasks(wf.definition, { t_new: { after, run: 'passThru' } }),
          );
          const atConfigure = apply(configured, state, {
            type: 'configure',
            eventId: 'c',
            version: 'v2',
            at: AT,
          });
          expect(atConfigure.effects).toEqual([]);
          state = atConfigure.state;
          const fired = new Set(before.map((f) => f.trigger));
          let scheduledAt: number | undefined;
          for (const [i, f] of afterwards.entries()) {
            const applied = apply(configured, state, {
              type: 'fire',
              eventId: `a${i}`,
              trigger: f.trigger,
              at: AT,
            });
            state = applied.state;
            fired.add(f.trigger);
            const decided = decisions(applied.effects);
            if (decided.includes('schedule t_new#0')) scheduledAt ??= i;
            // A one-shot task: never a second instance.
            expect(decided).not.toContain('create t_new#1');
          }
          // It runs exactly when a fire after the configuration that t_new listens to finds all
          // of its triggers fired, before the configuration or since.
          const expected = afterwards.findIndex(
            (f, i) =>
              after.includes(f.trigger) &&
              after.every(
                (t) =>
                  before.some((b) => b.trigger === t) ||
                  afterwards.slice(0, i + 1).some((a) => a.trigger === t),
              ),
          );
          if (expected === -1) {
            expect(scheduledAt).toBeUndefined();
          } else {
            // Created by the first fire it listens to; scheduled once its triggers are complete.
            expect(scheduledAt).toBe(expected);
          }
          expect(state.version).toBe('v2');
        },
      ),
      { numRuns: 300 },
    );
  });
});
