import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apply,
  type CompiledWorkflow,
  compileWorkflow,
  initialState,
  type SessionState,
} from '../../lib/engine/index.ts';
import { EXTERNAL_TRIGGERS, workflowArb } from './arbitraries.ts';

const FIRINGS = 10_000;
const EVENT_ID_LENGTH = 'ev-0000000'.length;

/**
 * The bound the serialized state must keep, whatever the session's history:
 *   fixed part + per mentioned trigger + per task + per unstarted instance,
 * each term sized from the names involved. History (events fired, instances resolved) is not a
 * term: only tasks, triggers and unstarted instances are.
 */
function bound(wf: CompiledWorkflow, state: SessionState): number {
  const idLen = Math.max(EVENT_ID_LENGTH, 'cascade#'.length + 140);
  let total = 64 + wf.name.length;
  // Every trigger fired is remembered (a configuration may add a task that waits for it).
  const triggers = new Set([...wf.listeners.keys(), ...Object.keys(state.fired)]);
  for (const trigger of triggers) total += trigger.length + idLen + 32;
  for (const task of wf.tasks.values()) total += task.name.length + 16;
  for (const [name, list] of Object.entries(state.unstarted)) {
    const task = wf.tasks.get(name);
    if (!task) throw new Error(`unknown task ${name}`);
    total += task.name.length + 8;
    for (const _ of list) {
      total += 80;
      for (const t of task.requires) total += t.length + idLen + 6;
      for (const t of task.unless) total += t.length + 3;
    }
  }
  return total;
}

function fire(
  wf: CompiledWorkflow,
  state: SessionState,
  trigger: string,
  eventId: string,
): SessionState {
  // A tiny synchronous runtime: every scheduled instance finishes at once and cascades.
  const queue = [{ trigger, eventId }];
  let s = state;
  for (let next = queue.shift(); next; next = queue.shift()) {
    const result = apply(wf, s, { type: 'fire', ...next, at: '2026-01-01T00:00:00.000Z' });
    s = result.state;
    for (const e of result.effects) {
      if (e.type === 'schedule')
        queue.push({ trigger: e.instance.task, eventId: `cascade#${e.instance.name}` });
    }
  }
  return s;
}

describe('the session state', () => {
  it('stays within O(tasks + triggers + unstarted instances) across 10,000 andEvery firings', () => {
    fc.assert(
      fc.property(
        workflowArb({ unless: true }),
        fc.array(fc.constantFrom(...EXTERNAL_TRIGGERS), { minLength: 1, maxLength: 20 }),
        (tasks, extra) => {
          const wf = compileWorkflow({ name: 'prop', tasks });
          const everyTriggers = [...wf.tasks.values()].flatMap((t) =>
            t.andEvery ? [t.andEvery] : [],
          );
          // Every outside trigger fires early and often; andEvery triggers most of all.
          const pattern = [
            ...EXTERNAL_TRIGGERS,
            ...extra,
            ...everyTriggers.filter((t) => !wf.tasks.has(t)),
          ];
          let state = initialState(wf);
          let largest = 0;
          const counts = new Map<string, number>();
          for (let i = 0; i < FIRINGS; i++) {
            const trigger = pattern[i % pattern.length] as string;
            counts.set(trigger, (counts.get(trigger) ?? 0) + 1);
            state = fire(wf, state, trigger, `ev-${String(i).padStart(7, '0')}`);
            if (i % 97 === 0 || i === FIRINGS - 1) {
              const size = JSON.stringify(state).length;
              largest = Math.max(largest, size);
              expect(size).toBeLessThanOrEqual(bound(wf, state));
            }
          }
          // And it is plain JSON: it survives a round trip unchanged.
          expect(JSON.parse(JSON.stringify(state))).toEqual(state);
          // Counts still grow with history; they are numbers, not lists.
          for (const [trigger, count] of counts) {
            expect(state.fired[trigger]?.count).toBe(count);
          }
          return largest > 0;
        },
      ),
      { numRuns: 200 },
    );
    // 200 sessions of 10,000 firings each: seconds, not milliseconds.
  }, 180_000);
});
