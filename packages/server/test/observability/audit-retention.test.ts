import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { AuditRecord } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AgentServer,
  createAgentRuntime,
  createAgentServer,
  createSqlitePersistenceAdapter,
} from "../../src/index.js";
import { FakeSandboxProvider } from "../../src/testing/index.js";

/**
 * The audit trail's retention in a real server over a real SQLite file: the
 * first prune runs once storage is ready (a fresh file has its tables only
 * after the runtime starts), and deletes what is past the retention.
 */
const DAY_MS = 86_400_000;
const servers: AgentServer[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

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

function record(at: string): AuditRecord {
  return {
    id: randomUUID(),
    at,
    requestId: randomUUID(),
    role: "admin",
    keyId: "digest",
    action: "session.create",
    method: "POST",
    route: "/sessions",
    outcome: "success",
    status: 201,
  };
}

async function serve(filename: string) {
  const { logger, lines } = capturedLogger();
  const runtime = createAgentRuntime({
    persistence: createSqlitePersistenceAdapter({ filename }),
    sandbox: new FakeSandboxProvider(() => undefined),
    agents: [{ id: "test", name: "Test agent" }],
    logger,
    idleTimeoutMs: 0,
  });
  const server = await createAgentServer({
    runtime,
    rateLimit: false,
    observability: { auditRetentionMs: DAY_MS },
  });
  servers.push(server);
  await server.listen({ port: 0 });
  return { server, lines };
}

describe("audit retention in a server", () => {
  it("prunes nothing before storage is ready: a fresh SQLite file logs no failed prune", async () => {
    const folder = await mkdtemp(join(tmpdir(), "audit-retention-"));
    folders.push(folder);
    const { lines } = await serve(join(folder, "fresh.db"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines.filter((line) => String(line.msg).includes("pruning audit records failed"))).toEqual([]);
  });

  it("deletes the stored records past the retention when it starts, keeping the others", async () => {
    const folder = await mkdtemp(join(tmpdir(), "audit-retention-"));
    folders.push(folder);
    const filename = join(folder, "seeded.db");
    const seed = createSqlitePersistenceAdapter({ filename });
    await seed.init();
    const old = record(new Date(Date.now() - 2 * DAY_MS).toISOString());
    const recent = record(new Date(Date.now() - 60_000).toISOString());
    await seed.appendAuditRecords([old, recent]);
    await seed.close();
    const { server, lines } = await serve(filename);
    await vi.waitFor(() =>
      expect(lines.some((line) => line.msg === "pruned audit records past their retention")).toBe(true),
    );
    const page = await server.audit.list({ limit: 10 });
    expect(page.records.map((stored) => stored.id)).toEqual([recent.id]);
  });
});
