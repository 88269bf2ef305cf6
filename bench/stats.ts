export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p95: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

/** Median, p95, p99, min and max of a sample (nearest-rank percentiles). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0)
    return { n: 0, median: Number.NaN, p95: Number.NaN, p99: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return {
    n: sorted.length,
    median: rank(0.5),
    p95: rank(0.95),
    p99: rank(0.99),
    min: sorted[0]!,
    max: sorted.at(-1)!,
  };
}

export function formatSummary(summary: Summary, unit = "ms"): string {
  const f = (v: number) => v.toFixed(2);
  return `median ${f(summary.median)} ${unit}, p95 ${f(summary.p95)} ${unit}, p99 ${f(summary.p99)} ${unit} (n=${summary.n}, min ${f(summary.min)}, max ${f(summary.max)})`;
}
