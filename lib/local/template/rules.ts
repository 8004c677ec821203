/**
 * The template's EventBridge rules: rules with an event pattern receive the events put on
 * their bus (by a function through the IAM endpoint, or by `putEvents`) and invoke their Lambda
 * targets as EventBridge does, asynchronously; scheduled rules run when asked (`runSchedule`),
 * not on a clock.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { FilterPattern } from '../../adapters/aws-lambda/wiring.ts';
import type { LogSink } from '../../core/log.ts';
import { NotFoundError, TemplateError } from '../../errors.ts';
import { matchesPattern, unsupportedInPattern } from '../filter.ts';
import type { LocalEnv } from './model.ts';

/** One rule of the template, resolved. */
export interface RuleSpec {
  readonly logicalId: string;
  readonly arn: string;
  readonly eventBusName: string;
  readonly schedule: string | undefined;
  readonly pattern: FilterPattern | undefined;
  readonly enabled: boolean;
  readonly targets: ReadonlyArray<{ functionLogicalId: string; input: string | undefined }>;
}

/** An entry of `PutEvents`, as the API takes it. */
export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Resources?: string[];
  Time?: string;
}

/**
 * An entry of `PutEvents`' answer: the event's id, or why the entry failed.
 *
 * @example
 * const failed: PutEventsResultEntry = { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
 */
export interface PutEventsResultEntry {
  EventId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

/** An entry's `Detail` as an object (`{}` when absent); undefined when it is not a JSON object. */
function detailOf(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A rule's resolved properties; throws `TemplateError` naming the rule for targets or
 * patterns the mode does not emulate.
 *
 * @example
 * const rule = ruleSpec('StaleSessionsSchedule', props, arn, (arn) => functionIds.get(arn));
 */
export function ruleSpec(
  logicalId: string,
  props: Record<string, unknown>,
  arn: string,
  functionOf: (arn: string) => string | undefined,
): RuleSpec {
  // CloudFormation takes the pattern as an object or as its JSON text.
  let pattern = props.EventPattern as FilterPattern | string | undefined;
  if (typeof pattern === 'string') {
    try {
      pattern = JSON.parse(pattern) as FilterPattern;
    } catch (err) {
      throw new TemplateError(logicalId, 'its EventPattern is not JSON', { cause: err });
    }
  }
  if (pattern !== undefined) {
    const unsupported = unsupportedInPattern(pattern);
    if (unsupported !== undefined) {
      throw new TemplateError(logicalId, `event pattern: ${unsupported} is not emulated`);
    }
  }
  const targets = ((props.Targets as Array<Record<string, unknown>> | undefined) ?? []).map((t) => {
    const functionLogicalId = functionOf(String(t.Arn));
    if (functionLogicalId === undefined) {
      throw new TemplateError(
        logicalId,
        `target ${String(t.Arn)} is not emulated (Lambda functions of the template are)`,
      );
    }
    if (t.InputTransformer !== undefined || t.InputPath !== undefined) {
      throw new TemplateError(
        logicalId,
        `target ${String(t.Id)}: InputTransformer and InputPath are not emulated`,
      );
    }
    if (typeof t.Input === 'string') {
      // Checked now: a bad Input would otherwise fail each delivery, far from its cause.
      try {
        JSON.parse(t.Input);
      } catch (err) {
        throw new TemplateError(logicalId, `target ${String(t.Id)}: its Input is not JSON`, {
          cause: err,
        });
      }
    }
    return { functionLogicalId, input: typeof t.Input === 'string' ? t.Input : undefined };
  });
  const bus = String(props.EventBusName ?? 'default');
  return {
    logicalId,
    arn,
    eventBusName: bus.includes(':event-bus/') ? (bus.split(':event-bus/')[1] ?? bus) : bus,
    schedule: typeof props.ScheduleExpression === 'string' ? props.ScheduleExpression : undefined,
    pattern,
    // ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is enabled too.
    enabled: props.State === undefined || String(props.State).startsWith('ENABLED'),
    targets,
  };
}

/**
 * The rules of a template, delivering events to their targets.
 *
 * @example
 * const rules = new TemplateRules(specs, { env, invoke, log });
 * await rules.putEvents([{ Source: 'app.surveys', DetailType: 'Step Done', Detail: '{}' }]);
 */
export class TemplateRules {
  private pending = 0;

  constructor(
    readonly specs: readonly RuleSpec[],
    private readonly deps: {
      env: LocalEnv;
      invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
      log: LogSink;
    },
  ) {}

  /** Invocations of targets under way. */
  get inFlight(): number {
    return this.pending;
  }

  /** Invokes a rule's targets asynchronously, as EventBridge does; failures are logged. */
  private deliver(rule: RuleSpec, event: Record<string, unknown>): void {
    for (const target of rule.targets) {
      const payload = target.input !== undefined ? JSON.parse(target.input) : event;
      this.pending += 1;
      this.deps
        .invoke(target.functionLogicalId, payload)
        .catch((err: unknown) =>
          this.deps.log({
            level: 'error',
            message: `rule ${rule.logicalId}: its target ${target.functionLogicalId} failed`,
            timestamp: new Date().toISOString(),
            error: err instanceof Error ? err.message : String(err),
          }),
        )
        .finally(() => {
          this.pending -= 1;
        });
    }
  }

  /**
   * Puts events on their buses; each rule whose pattern matches one invokes its targets. An
   * entry whose `Detail` is not a JSON object fails alone, as `PutEvents` answers it.
   */
  putEvents(entries: readonly PutEventsEntry[]): {
    FailedEntryCount: number;
    Entries: PutEventsResultEntry[];
  } {
    const ids: PutEventsResultEntry[] = [];
    let failed = 0;
    for (const entry of entries) {
      const detail = detailOf(entry.Detail);
      if (detail === undefined) {
        failed += 1;
        ids.push({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
        continue;
      }
      const id = randomUUID();
      ids.push({ EventId: id });
      const event = {
        version: '0',
        id,
        'detail-type': entry.DetailType ?? '',
        source: entry.Source ?? '',
        account: this.deps.env.accountId,
        time: entry.Time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: this.deps.env.region,
        resources: entry.Resources ?? [],
        detail,
      };
      const bus = (entry.EventBusName ?? 'default').split(':event-bus/').pop() ?? 'default';
      for (const rule of this.specs) {
        if (!rule.enabled || rule.pattern === undefined || rule.eventBusName !== bus) continue;
        if (matchesPattern(event, rule.pattern)) this.deliver(rule, event);
      }
    }
    return { FailedEntryCount: failed, Entries: ids };
  }

  /**
   * Runs a scheduled rule once, now, with the event EventBridge sends on a schedule. Throws
   * `NotFoundError` for a rule that is not a scheduled rule of the template.
   */
  runSchedule(logicalId: string): void {
    const rule = this.specs.find((r) => r.logicalId === logicalId && r.schedule !== undefined);
    if (rule === undefined) {
      const scheduled = this.specs.filter((r) => r.schedule !== undefined).map((r) => r.logicalId);
      throw new NotFoundError(
        `'${logicalId}' is not a scheduled rule of the template (${scheduled.length > 0 ? scheduled.join(', ') : 'it has none'})`,
      );
    }
    this.deliver(rule, {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: this.deps.env.accountId,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.deps.env.region,
      resources: [rule.arn],
      detail: {},
    });
  }

  /** What the mode says at start about the rules. */
  notice(): string[] {
    const scheduled = this.specs.filter((r) => r.schedule !== undefined);
    return scheduled.length === 0
      ? []
      : [
          `scheduled rules run when asked, not on a clock: ${scheduled.map((r) => `${r.logicalId} (${r.schedule})`).join(', ')} (POST /_local/rules/{logicalId}/run)`,
        ];
  }
}
