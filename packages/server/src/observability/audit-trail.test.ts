import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { AuditRecord } from "@agent-runtime/protocol";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { AuditTrail } from "./audit-trail.js";

function record(tenantId: string | undefined, at = new Date().toISOString()): AuditRecord {
  return {
    id: randomUUID(),
    at,
    requestId: randomUUID(),
    ...(tenantId === undefined ? {} : { tenantId }),
    role: "tenant",
    keyId: "digest",
    action: "session.create",
    method: "POST",
    route: "/sessions",
    outcome: "success",
    status: 201,
  };
}

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

describe("AuditTrail", () => {
  it("logs every record, keeps what failed to store, and stores it on the next attempt", async () => {
    const store = createMemoryPersistenceAdapter();
    let failing = true;
    let failures = 0;
    const persistence: PersistenceAdapter = {
      ...store,
      appendAuditRecords: (records) =>
        failing ? Promise.reject(new Error("locked")) : store.appendAuditRecords(records),
    };
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({ persistence, logger, onWriteFailed: () => (failures += 1) });
    const first = record("acme", "2030-01-01T00:00:01.000Z");
    const second = record("acme", "2030-01-01T00:00:02.000Z");
    trail.record(first);
    await trail.flush();
    expect(failures).toBeGreaterThanOrEqual(1);
    expect(lines.filter((line) => line.msg === "audit").map((line) => line.audit)).toEqual([first]);
    failing = false;
    trail.record(second);
    const page = await trail.list({ limit: 10, tenantId: "acme" });
    expect(page.records).toEqual([second, first]);
  });

  it("drops the oldest waiting record past maxPending, from storage only, and says so", async () => {
    const store = createMemoryPersistenceAdapter();
    let failing = true;
    const persistence: PersistenceAdapter = {
      ...store,
      appendAuditRecords: (records) =>
        failing ? Promise.reject(new Error("down")) : store.appendAuditRecords(records),
    };
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({ persistence, logger, maxPending: 2 });
    const records = [1, 2, 3].map((n) => record("acme", `2030-01-01T00:00:0${n}.000Z`));
    for (const each of records) trail.record(each);
    await trail.flush();
    expect(trail.dropped).toBe(1);
    expect(lines.filter((line) => line.msg === "audit")).toHaveLength(3);
    expect(lines.some((line) => String(line.msg).includes("could not be stored in time"))).toBe(true);
    failing = false;
    expect((await trail.list({ limit: 10 })).records.map((r) => r.id)).toEqual([
      records[2]!.id,
      records[1]!.id,
    ]);
  });

  it("filters again what an adapter returns, and refuses a cursor it did not issue", async () => {
    const store = createMemoryPersistenceAdapter();
    // An adapter that ignores the tenant filter must not leak another tenant's records.
    const persistence: PersistenceAdapter = {
      ...store,
      listAuditRecords: ({ limit, after }) => store.listAuditRecords({ limit, ...(after ? { after } : {}) }),
    };
    const trail = new AuditTrail({ persistence, logger: pino({ level: "silent" }) });
    trail.record(record("acme"));
    trail.record(record("globex"));
    const page = await trail.list({ limit: 10, tenantId: "acme" });
    expect(page.records.map((r) => r.tenantId)).toEqual(["acme"]);
    await expect(trail.list({ limit: 10, cursor: "bm90LWEtY3Vyc29y" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  it("answers UNSUPPORTED without the capability, and still logs", async () => {
    const {
      appendAuditRecords: _append,
      listAuditRecords: _list,
      ...without
    } = createMemoryPersistenceAdapter();
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({ persistence: without, logger });
    trail.record(record("acme"));
    expect(lines.filter((line) => line.msg === "audit")).toHaveLength(1);
    await expect(trail.list({ limit: 10 })).rejects.toMatchObject({ code: "UNSUPPORTED" });
  });

  it("after close, logs records without storing them", async () => {
    const store = createMemoryPersistenceAdapter();
    const trail = new AuditTrail({ persistence: store, logger: pino({ level: "silent" }) });
    trail.record(record("acme"));
    await trail.close();
    trail.record(record("acme"));
    expect(await store.listAuditRecords({ limit: 10 })).toHaveLength(1);
  });

  it("prunes stored records older than its retention when it starts and then periodically, and logs how many", async () => {
    const store = createMemoryPersistenceAdapter();
    const old = record("acme", new Date(Date.now() - 3 * 86_400_000).toISOString());
    const recent = record("acme", new Date(Date.now() - 3_600_000).toISOString());
    await store.appendAuditRecords([old, recent]);
    const { logger, lines } = capturedLogger();
    const trail = new AuditTrail({
      persistence: store,
      logger,
      retentionMs: 86_400_000,
      pruneIntervalMs: 20,
    });
    trail.start();
    await vi.waitFor(async () => {
      expect(await store.listAuditRecords({ limit: 10 })).toEqual([recent]);
    });
    expect(
      lines.some((line) => line.msg === "pruned audit records past their retention" && line.pruned === 1),
    ).toBe(true);
    // Periodically: a record that ages past the retention later goes too.
    const aged = record("acme", new Date(Date.now() - 2 * 86_400_000).toISOString());
    await store.appendAuditRecords([aged]);
    await vi.waitFor(async () => {
      expect(await store.listAuditRecords({ limit: 10 })).toEqual([recent]);
    });
    await trail.close();
  });

  it("keeps every record when its retention is 0", async () => {
    const store = createMemoryPersistenceAdapter();
    const old = record("acme", "2001-01-01T00:00:00.000Z");
    await store.appendAuditRecords([old]);
    const trail = new AuditTrail({
      persistence: store,
      logger: pino({ level: "silent" }),
      retentionMs: 0,
      pruneIntervalMs: 5,
    });
    trail.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await store.listAuditRecords({ limit: 10 })).toEqual([old]);
    await trail.close();
  });
});
