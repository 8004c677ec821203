/**
 * Small statistics over samples: percentiles and extremes.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */

/** Percentiles and extremes of a sample. */
export interface Distribution {
  samples: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The distribution of a sample: nearest-rank percentiles. Zeros for an empty sample.
 *
 * @example
 * distribution([3, 1, 2]).p50; // 2
 */
export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { samples: 0, min: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return {
    samples: sorted.length,
    min: sorted[0] ?? 0,
    mean: sorted.reduce((n, v) => n + v, 0) / sorted.length,
    p50: rank(0.5),
    p95: rank(0.95),
    p99: rank(0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}
