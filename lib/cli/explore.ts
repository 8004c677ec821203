/**
 * `triggers explore`: runs an app module's workflow through every order of a list of events (or a
 * seeded sample of orders) on the memory backend and prints each distinct outcome.
 * May import: anything under lib/ (cli), Node.js.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ValidationError, WorkflowError } from '../errors.ts';
import {
  type ExploreEvent,
  type ExploreResult,
  ExploreRunError,
  explore,
} from '../testing/explore.ts';
import type { Workflow } from '../types.ts';
import { type AppModule, loadAppModule } from './app-module.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import type { CliIo } from './main.ts';

/** The exit code of `explore --fail-on-race` when the events end in more than one outcome. */
export const EXIT_ORDER_DEPENDENT = EXIT.orderDependent;

/** What `explore` reads from the command line. */
export interface ExploreCommandInput {
  readonly io: CliIo;
  readonly values: {
    app?: string;
    events?: string;
    duplicates?: boolean;
    runs?: string;
    seed?: string;
    json?: boolean;
    'fail-on-race'?: boolean;
  };
  /** The optional workflow name. */
  readonly args: readonly string[];
  readonly cwd: string;
}

function pickWorkflow(app: AppModule, named: string | undefined): Workflow {
  const names = app.workflows.map((w) => w.name);
  const wanted = named ?? app.defaultWorkflow ?? (names.length === 1 ? names[0] : undefined);
  if (wanted === undefined) {
    throw usageError(`name the workflow to explore: the app module has ${names.join(', ')}`);
  }
  const workflow = app.workflows.find((w) => w.name === wanted);
  if (workflow === undefined) {
    throw usageError(`the app module has no workflow '${wanted}' (it has ${names.join(', ')})`);
  }
  return workflow;
}

/**
 * Reads `--events`: a JSON array (inline or `@file`) of `{ trigger, kwargs? }` or bare trigger
 * names, or a comma-separated list of trigger names.
 */
function eventsArg(value: string | undefined, cwd: string): ExploreEvent[] {
  if (value === undefined) {
    throw usageError('explore: --events is required (JSON array, @file, or a,b,c)');
  }
  let text = value;
  let source = 'value';
  if (value.startsWith('@')) {
    source = `file '${value.slice(1)}'`;
    try {
      text = readFileSync(resolve(cwd, value.slice(1)), 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw usageError(`--events: cannot read ${source} (${reason})`);
    }
  }
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) {
    return trimmed
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.length > 0)
      .map((trigger) => ({ trigger }));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw usageError(`--events: ${source} is not valid JSON (${reason})`);
  }
  if (!Array.isArray(parsed)) throw usageError(`--events: ${source} must be a JSON array`);
  return parsed.map((e) => (typeof e === 'string' ? { trigger: e } : (e as ExploreEvent)));
}

function wholeNumberArg(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw usageError(`${option}: '${value}' is not a whole number`);
  return Number(value);
}

/** Instances whose status is not the same in every outcome (or that some outcomes lack). */
function differing(result: ExploreResult): Set<string> {
  const names = new Set(result.outcomes.flatMap((o) => Object.keys(o.statuses)));
  const first = result.outcomes[0]?.statuses ?? {};
  return new Set(
    [...names].filter((name) => result.outcomes.some((o) => o.statuses[name] !== first[name])),
  );
}

function render(workflow: string, events: number, result: ExploreResult): string {
  const { outcomes, runs, totalOrders, exhaustive } = result;
  const total = totalOrders > 1e15 ? totalOrders.toExponential(2) : String(totalOrders);
  const scope = exhaustive
    ? `every order (${runs})`
    : `${runs} of ${total} orders, sampled with seed ${result.seed}`;
  const lines = [
    `explored workflow '${workflow}' with ${events} event${events === 1 ? '' : 's'}: ${scope}`,
  ];
  const marked = differing(result);
  outcomes.forEach((o, i) => {
    lines.push(
      '',
      `outcome ${i + 1}: ${o.count} of ${runs} orders`,
      `  order: ${o.order.join(', ')}`,
    );
    const names = Object.keys(o.statuses);
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) {
      lines.push(`  ${name.padEnd(width)}  ${o.statuses[name]}${marked.has(name) ? '  *' : ''}`);
    }
    if (names.length === 0) lines.push('  (no instances)');
  });
  const every = exhaustive ? 'every order' : 'every sampled order';
  lines.push(
    '',
    outcomes.length > 1
      ? `order-dependent: ${outcomes.length} distinct outcomes (* marks the instances that differ)`
      : `not order-dependent for these events: ${every} ended the same way`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Runs `triggers explore [workflow] --events ...`: loads the app module (`--app`, else
 * `$TRIGGERS_APP`, else the example app of a checkout), explores the workflow and prints the
 * outcomes. With `--fail-on-race`, more than one outcome ends the command with exit code 4.
 *
 * @example
 * await exploreCommand({
 *   io,
 *   values: { events: 'step1,isEmbeddedApp' },
 *   args: ['survey'],
 *   cwd: process.cwd(),
 * });
 */
export async function exploreCommand(input: ExploreCommandInput): Promise<void> {
  const events = eventsArg(input.values.events, input.cwd);
  const runs = wholeNumberArg('--runs', input.values.runs);
  const seed = wholeNumberArg('--seed', input.values.seed);
  const app = await loadAppModule({
    app: input.values.app,
    env: input.io.env,
    cwd: input.cwd,
  });
  const workflow = pickWorkflow(app, input.args[0]);
  let result: ExploreResult;
  try {
    result = await explore({
      workflow,
      handlers: app.handlers,
      events,
      duplicates: input.values.duplicates === true,
      ...(runs !== undefined ? { runs } : {}),
      ...(seed !== undefined ? { seed } : {}),
    });
  } catch (err) {
    if (err instanceof ValidationError || err instanceof WorkflowError) {
      throw usageError(err.message);
    }
    if (err instanceof ExploreRunError) throw new CliError(err.message, EXIT.unreachable);
    throw err;
  }
  input.io.stdout(
    input.values.json
      ? `${JSON.stringify({
          workflow: workflow.name,
          events: events.length,
          duplicates: input.values.duplicates === true,
          ...result,
          orderDependent: result.outcomes.length > 1,
        })}\n`
      : render(workflow.name, events.length, result),
  );
  if (input.values['fail-on-race'] === true && result.outcomes.length > 1) {
    throw new CliError(
      `workflow '${workflow.name}' is order-dependent: ${result.outcomes.length} distinct outcomes`,
      EXIT_ORDER_DEPENDENT,
    );
  }
}
