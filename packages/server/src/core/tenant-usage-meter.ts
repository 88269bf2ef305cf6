import type { SessionEvent, TenantUsageTotals } from "@agent-runtime/protocol";
import type { Logger } from "pino";
import { errorMessage } from "../errors.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { addTenantUsageTotals, emptyTenantUsage } from "../persistence/tenant-usage-totals.js";

/**
 * Totals what each tenant's sessions use: tokens and cost (from every
 * `session:metadata:update` that carries a turn's usage) and sandbox-seconds
 * (from `session:status`: the time between a sandbox reaching `running` and
 * leaving it). What was counted is kept in memory until `flush()` adds it to
 * persistence (`addTenantUsage`); a failed write keeps it for the next flush.
 * Sessions of no tenant are not counted. With an adapter that lacks the
 * optional usage methods, totals count since the process started.
 */
export class TenantUsageMeter {
  /** Counted, not yet written, per tenant. */
  private readonly pending = new Map<string, TenantUsageTotals>();
  /** Per session whose sandbox runs: its tenant, and since when it was last counted (ms). */
  private readonly running = new Map<string, { readonly tenantId: string; since: number }>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly persistence: PersistenceAdapter,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts `event` of a session of `tenantId` (absent: of none, not counted). */
  observe(tenantId: string | undefined, event: SessionEvent): void {
    if (tenantId === undefined) return;
    if (event.type === "session:metadata:update" && event.turnUsage) {
      const { inputTokens, outputTokens, cacheReadTokens, cacheCreationTokens, costUsd } = event.turnUsage;
      this.add(tenantId, {
        inputTokens,
        outputTokens,
        cacheReadTokens,
        cacheCreationTokens,
        costUsd,
        sandboxSeconds: 0,
      });
    } else if (event.type === "session:status") {
      const runs = event.runtime.sandboxStatus === "running";
      const open = this.running.get(event.sessionId);
      if (runs && !open) this.running.set(event.sessionId, { tenantId, since: this.now() });
      else if (!runs && open) {
        this.running.delete(event.sessionId);
        this.addSeconds(open.tenantId, open.since);
      }
    }
  }

  /** The tenant's totals: stored, plus counted and not yet written, plus its sandboxes running now. */
  async totals(tenantId: string): Promise<TenantUsageTotals> {
    const stored = (await this.persistence.loadTenantUsage?.(tenantId)) ?? emptyTenantUsage();
    let totals = addTenantUsageTotals(stored, this.pending.get(tenantId) ?? emptyTenantUsage());
    const now = this.now();
    for (const open of this.running.values()) {
      if (open.tenantId === tenantId)
        totals = { ...totals, sandboxSeconds: totals.sandboxSeconds + (now - open.since) / 1000 };
    }
    return totals;
  }

  /**
   * Writes what was counted (running sandboxes up to now) to persistence.
   * Never rejects: a failed write is logged and kept for the next flush.
   * Concurrent calls share one flush.
   */
  flush(): Promise<void> {
    const add = this.persistence.addTenantUsage?.bind(this.persistence);
    if (!add || !this.persistence.loadTenantUsage) return Promise.resolve();
    this.flushing ??= (async () => {
      for (const open of this.running.values()) {
        const since = open.since;
        open.since = this.now();
        this.addSeconds(open.tenantId, since);
      }
      const batch = [...this.pending];
      this.pending.clear();
      await Promise.all(
        batch.map(async ([tenantId, delta]) => {
          try {
            await add(tenantId, delta);
          } catch (error) {
            this.add(tenantId, delta);
            this.logger.warn(
              { tenantId, err: errorMessage(error) },
              "tenant usage not stored; retried at the next sync",
            );
          }
        }),
      );
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private addSeconds(tenantId: string, since: number): void {
    const seconds = Math.max(0, this.now() - since) / 1000;
    if (seconds > 0) this.add(tenantId, { ...emptyTenantUsage(), sandboxSeconds: seconds });
  }

  private add(tenantId: string, delta: TenantUsageTotals): void {
    this.pending.set(tenantId, addTenantUsageTotals(this.pending.get(tenantId), delta));
  }
}
