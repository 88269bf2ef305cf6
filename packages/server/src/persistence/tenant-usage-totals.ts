import type { TenantUsageTotals } from "@agent-runtime/protocol";
import { addUsage } from "../core/usage.js";

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
  return { ...addUsage(base, b), sandboxSeconds: base.sandboxSeconds + b.sandboxSeconds };
}
