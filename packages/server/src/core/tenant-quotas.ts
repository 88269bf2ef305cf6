import type { QuotaName, TenantQuota, TenantQuotas as TenantQuotasConfig } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

/** A minute, the window of `messagesPerMinute`. */
const MINUTE_MS = 60_000;

/**
 * A refusal `QUOTA_EXCEEDED`: `details` names the quota and its limit, and
 * `retryAfter` (seconds) says when trying again may pass, where time frees
 * the quota (`messagesPerMinute`).
 */
export function quotaExceeded(
  tenantId: string,
  quota: QuotaName,
  limit: number,
  retryAfterSeconds?: number,
): RuntimeError {
  return new RuntimeError("QUOTA_EXCEEDED", `Tenant ${tenantId} is at its ${quota} quota (${limit})`, {
    details: { quota, limit, ...(retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds }) },
  });
}

/**
 * The quotas of every tenant (see `TenantQuota`) and the per-tenant state
 * they need in memory: the times of each tenant's recent messages (at most
 * `messagesPerMinute` per tenant) and the creations in flight. What the
 * quotas count (sessions, sandboxes, stored bytes) is read by the caller
 * (`SessionManager`) and passed in. Counters live in this process: on a
 * cluster each node enforces `messagesPerMinute` and `runningSandboxes`
 * for what it serves.
 */
export class TenantQuotaBook {
  private readonly recentMessages = new Map<string, number[]>();
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(
    private readonly config: TenantQuotasConfig = {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The quota of `tenantId`: its own fields over the default's. */
  quotaOf(tenantId: string): TenantQuota {
    return { ...this.config.default, ...this.config.tenants?.[tenantId] };
  }

  /** True when any tenant has any quota (else the callers skip their counting). */
  get any(): boolean {
    return (
      Object.keys(this.config.default ?? {}).length > 0 ||
      Object.values(this.config.tenants ?? {}).some((quota) => Object.keys(quota).length > 0)
    );
  }

  /**
   * Runs `create` for `tenantId` after the creations of the tenant already
   * in flight, so that a count read inside it sees them all: a session
   * quota is not passed by two creations at once.
   */
  serialCreate<T>(tenantId: string, create: () => Promise<T>): Promise<T> {
    const before = this.creating.get(tenantId) ?? Promise.resolve();
    const run = before.then(create, create);
    const settled = run.catch(() => undefined);
    this.creating.set(tenantId, settled);
    void settled.then(() => {
      if (this.creating.get(tenantId) === settled) this.creating.delete(tenantId);
    });
    return run;
  }

  /** Throws `QUOTA_EXCEEDED` when `held` reaches the tenant's `quota` (a new one would pass it). */
  assertBelow(tenantId: string, quota: "sessions" | "runningSandboxes" | "storedBytes", held: number): void {
    const limit = this.quotaOf(tenantId)[quota];
    if (limit !== undefined && held >= limit) throw quotaExceeded(tenantId, quota, limit);
  }

  /**
   * Counts a message of `tenantId` against its `messagesPerMinute`, or
   * throws `QUOTA_EXCEEDED` (counting nothing) with the seconds until the
   * oldest message of the last minute leaves the window.
   */
  takeMessage(tenantId: string): void {
    const limit = this.quotaOf(tenantId).messagesPerMinute;
    if (limit === undefined) return;
    const now = this.now();
    const times = (this.recentMessages.get(tenantId) ?? []).filter((at) => at > now - MINUTE_MS);
    if (times.length >= limit) {
      this.recentMessages.set(tenantId, times);
      const oldest = times[times.length - limit] ?? now;
      throw quotaExceeded(
        tenantId,
        "messagesPerMinute",
        limit,
        Math.max(1, Math.ceil((oldest + MINUTE_MS - now) / 1000)),
      );
    }
    times.push(now);
    this.recentMessages.set(tenantId, times);
  }
}
