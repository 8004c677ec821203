/**
 * The stale-sessions Lambda: invoked on a schedule, it counts the sessions whose unstarted
 * instances have waited longer than the configured age and publishes the count as a CloudWatch
 * metric (an Embedded Metric Format line on stdout). It only translates; the counting lives in
 * `lib/core/stale.ts`.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */

import type { Clock } from '../../core/clock.ts';
import { measureStale, type StaleSummary, staleMetricLine } from '../../core/stale.ts';
import { EnvironmentError } from '../../errors.ts';
import type { SessionStore } from '../../store/port.ts';
import type { LambdaSettings } from './environment.ts';
import { ENV } from './variables.ts';

/** The stale-sessions Lambda's handler: any event in, the measurement out. */
export type StaleMonitorHandler = (event?: unknown) => Promise<StaleSummary>;

/** What the handler runs against: a store with the stale index, and a clock. */
export interface StaleMonitorRuntime {
  store: SessionStore;
  clock: Clock;
}

/** What the handler reads from the function's environment. */
export type StaleMonitorSettings = Pick<
  LambdaSettings,
  'TRIGGERS_TABLE_NAME' | 'TRIGGERS_STALE_INDEX' | 'TRIGGERS_STALE_AFTER_SECONDS'
>;

/**
 * Creates the stale-sessions Lambda's handler. Throws `EnvironmentError` at once (at cold
 * start) when the age or the stale index is not configured.
 *
 * The pre-bundled function (`functions/stale.ts`) creates it once, at cold start:
 *
 * @example
 * const runtime = runtimeFromEnv(app);
 * export const handler = createStaleMonitorHandler(runtime, settingsFromEnv(process.env));
 */
export function createStaleMonitorHandler(
  runtime: StaleMonitorRuntime,
  settings: StaleMonitorSettings,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): StaleMonitorHandler {
  const olderThanSeconds = settings.TRIGGERS_STALE_AFTER_SECONDS;
  if (olderThanSeconds === undefined) {
    throw new EnvironmentError(
      ENV.staleAfterSeconds,
      'is required: the age, in seconds, after which an unstarted instance is stale',
    );
  }
  if (settings.TRIGGERS_STALE_INDEX === undefined || runtime.store.countStale === undefined) {
    throw new EnvironmentError(
      ENV.staleIndex,
      'is required: the name of the table index the store keeps stale sessions in',
    );
  }
  return async () => {
    const summary = await measureStale(runtime, olderThanSeconds);
    write(staleMetricLine(summary, settings.TRIGGERS_TABLE_NAME, runtime.clock.now()));
    return summary;
  };
}
