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
  const pattern = props.EventPattern as FilterPattern | undefined;
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
    return { functionLogicalId, input: typeof t.Input === 'string' ? t.Input : undefined };
  });
  const bus = String(props.EventBusName ?? 'default');
  return {
    logicalId,
    arn,
    eventBusName: bus.includes(':event-bus/') ? (bus.split(':event-bus/')[1] ?? bus) : bus,
    schedule: typeof props.ScheduleExpression === 'string' ? props.ScheduleExpression : undefined,
    pattern,
    enabled: props.State === undefined || props.State === 'ENABLED',
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

  /** Puts events on their buses; each rule whose pattern matches one invokes its targets. */
  putEvents(entries: readonly PutEventsEntry[]): {
    FailedEntryCount: number;
    Entries: Array<{ EventId: string }>;
  } {
    const ids: Array<{ EventId: string }> = [];
    for (const entry of entries) {
      const id = randomUUID();
      ids.push({ EventId: id });
      let detail: unknown = {};
      try {
        detail = JSON.parse(entry.Detail ?? '{}');
      } catch {
        detail = {};
      }
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
    return { FailedEntryCount: 0, Entries: ids };
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
