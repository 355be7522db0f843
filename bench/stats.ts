/** Percentiles of measured samples (nearest-rank), and rounding for the report. */

export interface Distribution {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

/** Nearest-rank percentile of `values` (0 < p <= 100); NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function distribution(values: number[]): Distribution {
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
    samples: values.length,
  };
}

/** Round to `digits` significant decimals for JSON output. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
