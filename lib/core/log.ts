/**
 * Structured logging: the log entry, the sink entries go to, and the logger a task handler gets.
 * May import: base, engine, store, core.
 *
 * @module
 */
import type { Kwargs, LogLevel, TaskLogger } from '../types.ts';

/** One structured log entry. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  timestamp: string;
  [attribute: string]: unknown;
}

/** Where structured log entries go. */
export type LogSink = (entry: LogEntry) => void;

/** Discards everything. */
export const silentSink: LogSink = () => {};

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The higher of two log levels. */
export function maxLevel(a: LogLevel | undefined, b: LogLevel): LogLevel {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}

/** A logger that writes structured entries with fixed attributes, and tracks the highest level. */
export class RecordingLogger implements TaskLogger {
  highest: LogLevel | undefined;

  constructor(
    private readonly sink: LogSink,
    private readonly attributes: Kwargs,
    private readonly now: () => Date,
  ) {}

  private write(level: LogLevel, message: string, attributes?: Kwargs): void {
    this.highest = maxLevel(this.highest, level);
    this.sink({
      ...this.attributes,
      ...attributes,
      level,
      message,
      timestamp: this.now().toISOString(),
    });
  }

  debug(message: string, attributes?: Kwargs): void {
    this.write('debug', message, attributes);
  }
  info(message: string, attributes?: Kwargs): void {
    this.write('info', message, attributes);
  }
  warn(message: string, attributes?: Kwargs): void {
    this.write('warn', message, attributes);
  }
  error(message: string, attributes?: Kwargs): void {
    this.write('error', message, attributes);
  }
}
