import { describe, expect, it } from "vitest";
import { TenantQuotaBook } from "./tenant-quotas.js";

describe("TenantQuotaBook", () => {
  it("gives each tenant the default with its own fields over it", () => {
    const book = new TenantQuotaBook({
      default: { sessions: 5, storedBytes: 10 },
      tenants: { acme: { sessions: 50 } },
    });
    expect(book.quotaOf("acme")).toEqual({ sessions: 50, storedBytes: 10 });
    expect(book.quotaOf("globex")).toEqual({ sessions: 5, storedBytes: 10 });
    expect(new TenantQuotaBook({}).any).toBe(false);
    expect(book.any).toBe(true);
    expect(() => book.assertBelow("globex", "sessions", 4)).not.toThrow();
    expect(() => book.assertBelow("globex", "sessions", 5)).toThrow(
      expect.objectContaining({ code: "QUOTA_EXCEEDED", details: { quota: "sessions", limit: 5 } }),
    );
  });

  it("admits messagesPerMinute per tenant in a sliding minute, saying when the next one passes", () => {
    let now = 1_000_000;
    const book = new TenantQuotaBook({ default: { messagesPerMinute: 2 } }, () => now);
    book.takeMessage("acme");
    now += 20_000;
    book.takeMessage("acme");
    now += 10_000;
    expect(() => book.takeMessage("acme")).toThrow(
      expect.objectContaining({ details: { quota: "messagesPerMinute", limit: 2, retryAfter: 30 } }),
    );
    book.takeMessage("globex");
    // A refusal counts nothing: once the first leaves the window, one more passes.
    now += 30_001;
    book.takeMessage("acme");
    expect(() => book.takeMessage("acme")).toThrow(expect.objectContaining({ code: "QUOTA_EXCEEDED" }));
  });

  it("runs a tenant's creations one after another, also after a failed one", async () => {
    const book = new TenantQuotaBook({});
    const order: string[] = [];
    const slow = (name: string, ms: number, fail = false) =>
      book.serialCreate("acme", async () => {
        order.push(`${name}:start`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        order.push(`${name}:end`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([slow("a", 30, true), slow("b", 1), slow("c", 1)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect(order).toEqual(["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
  });
});
