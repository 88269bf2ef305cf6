import type { SessionEvent, TenantUsageTotals } from "@agent-runtime/protocol";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import { TenantUsageMeter } from "./tenant-usage-meter.js";

const status = (sessionId: string, sandboxStatus: string) =>
  ({
    type: "session:status",
    sessionId,
    seq: 1,
    timestamp: "",
    runtime: { sandboxStatus, busy: false, isLoaded: true, queuedMessages: [] },
  }) as unknown as SessionEvent;
const turnUsage = (sessionId: string, inputTokens: number, costUsd: number) =>
  ({
    type: "session:metadata:update",
    sessionId,
    seq: 2,
    timestamp: "",
    usage: { inputTokens, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd },
    turnUsage: { inputTokens, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd },
    estimated: false,
  }) as SessionEvent;

describe("TenantUsageMeter", () => {
  it("totals turns' tokens and cost and sandboxes' running seconds per tenant, and stores them at flush", async () => {
    let now = 0;
    const store = createMemoryPersistenceAdapter();
    const meter = new TenantUsageMeter(store, pino({ level: "silent" }), () => now);
    meter.observe("acme", status("s1", "running"));
    meter.observe("acme", turnUsage("s1", 100, 0.5));
    meter.observe("globex", turnUsage("s2", 7, 0));
    meter.observe(undefined, turnUsage("s3", 1000, 9));
    now = 10_000;
    expect(await meter.totals("acme")).toMatchObject({ inputTokens: 100, costUsd: 0.5, sandboxSeconds: 10 });
    await meter.flush();
    expect(await store.loadTenantUsage("acme")).toMatchObject({ inputTokens: 100, sandboxSeconds: 10 });
    now = 15_000;
    meter.observe("acme", status("s1", "terminated"));
    meter.observe("acme", status("s1", "terminated"));
    now = 99_000;
    expect(await meter.totals("acme")).toMatchObject({ inputTokens: 100, sandboxSeconds: 15 });
    await meter.flush();
    expect(await store.loadTenantUsage("acme")).toMatchObject({ inputTokens: 100, sandboxSeconds: 15 });
    expect(await store.loadTenantUsage("globex")).toMatchObject({ inputTokens: 7 });
  });

  it("keeps a delta whose write failed and adds it at the next flush", async () => {
    const store = createMemoryPersistenceAdapter();
    let failing = true;
    const flaky = {
      ...store,
      addTenantUsage: async (tenantId: string, delta: TenantUsageTotals) => {
        if (failing) throw new Error("disk full");
        await store.addTenantUsage(tenantId, delta);
      },
    };
    const meter = new TenantUsageMeter(flaky, pino({ level: "silent" }));
    meter.observe("acme", turnUsage("s1", 10, 0));
    await meter.flush();
    expect(await store.loadTenantUsage("acme")).toBeNull();
    expect(await meter.totals("acme")).toMatchObject({ inputTokens: 10 });
    failing = false;
    meter.observe("acme", turnUsage("s1", 5, 0));
    await meter.flush();
    expect(await store.loadTenantUsage("acme")).toMatchObject({ inputTokens: 15 });
    expect(await meter.totals("acme")).toMatchObject({ inputTokens: 15 });
  });
});
