/**
 * The trigger engine's entry: workflow validation and the session reducer re-exported, and
 * `sessionEngine`, the reducer bound to one workflow. Pure TypeScript: no I/O, no AWS, no clock.
 * May import: engine (its siblings), base (lib/types.ts, lib/errors.ts), zod.
 *
 * @module
 */
export * from './events.ts';
export * from './finalize.ts';
export * from './kwargs.ts';
export * from './names.ts';
export * from './outcome.ts';
export * from './session.ts';
export * from './state.ts';
export * from './workflow.ts';

import type { Applied, Effect, OutcomeEvent, SessionEvent } from './events.ts';
import { decideOutcome } from './outcome.ts';
import { apply } from './session.ts';
import { initialState, type SessionState } from './state.ts';
import type { CompiledWorkflow } from './workflow.ts';

/** The reducer bound to one workflow: everything else in the package moves bytes around it. */
export interface SessionEngine {
  readonly workflow: CompiledWorkflow;
  initialState(): SessionState;
  apply(state: SessionState, event: SessionEvent): Applied;
  decideOutcome(event: OutcomeEvent): Effect[];
}

/**
 * Binds the reducer to a compiled workflow: `engine.apply(state, event) -> { state, effects }`.
 *
 * @example
 * const engine = sessionEngine(compileWorkflow(workflow));
 * let state = engine.initialState();
 * ({ state } = engine.apply(state, { type: 'fire', eventId: 'e1', trigger: 'x', at: '2026-01-01T00:00:00Z' }));
 */
export function sessionEngine(workflow: CompiledWorkflow): SessionEngine {
  return {
    workflow,
    initialState: () => initialState(workflow),
    apply: (state, event) => apply(workflow, state, event),
    decideOutcome: (event) => decideOutcome(workflow, event),
  };
}
