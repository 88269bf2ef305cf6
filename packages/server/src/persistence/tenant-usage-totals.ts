import type { TenantUsageTotals } from "@agent-runtime/protocol";

/** Totals of nothing used. */
export function emptyTenantUsage(): TenantUsageTotals {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    costUsd: 0,
    sandboxSeconds: 0,
  };
}

/** `a` (absent: zero) plus `b`, field by field. */
export function addTenantUsageTotals(
  a: TenantUsageTotals | undefined,
  b: TenantUsageTotals,
): TenantUsageTotals {
  const base = a ?? emptyTenantUsage();
  return {
    inputTokens: base.inputTokens + b.inputTokens,
    outputTokens: base.outputTokens + b.outputTokens,
    cacheReadTokens: base.cacheReadTokens + b.cacheReadTokens,
    cacheCreationTokens: base.cacheCreationTokens + b.cacheCreationTokens,
    costUsd: base.costUsd + b.costUsd,
    sandboxSeconds: base.sandboxSeconds + b.sandboxSeconds,
  };
}
