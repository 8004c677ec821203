/**
 * The trigger engine: workflow validation and the session reducer. Pure TypeScript: no I/O,
 * no AWS, no clock. Everything else in the package moves bytes around it.
 *
 * @module
 */
export * from './kwargs.ts';
export * from './names.ts';
export * from './session.ts';
export * from './workflow.ts';

import {
  type Applied,
  apply,
  decideOutcome,
  type Effect,
  initialState,
  type OutcomeEvent,
  type SessionEvent,
  type SessionState,
} from './session.ts';
import type { CompiledWorkflow } from './workflow.ts';

/** The reducer bound to one workflow. */
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
