import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ListAuditResponse } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AgentServer,
  type AgentServerOptions,
  createAgentRuntime,
  createAgentServer,
  createMemoryPersistenceAdapter,
  type PersistenceAdapter,
} from "../../src/index.js";
import { startMetricsListener } from "../../src/observability/metrics-listener.js";
import { FakeSandboxProvider } from "../../src/testing/index.js";
import { parsePrometheusText } from "../support/prometheus-text.js";

/**
 * `/ready`, `/metrics` and `/audit` of servers over an in-memory store and
 * fake sandboxes (what they report needs no real agent): readiness follows
 * storage and the sandbox provider, each server counts in a registry of its
 * own, the metrics listener needs no key, and a failure to store audit
 * records is counted and recovered from.
 */
const ADMIN = "admin-key";
const KEY_A = "alpha-key";
const KEY_B = "beta-key";

/** What a test breaks: storage reads, audit writes, the sandbox provider's check. */
const faults = { storage: false as false | "fail" | "hang", audit: false, sandboxCheck: false };

class CheckedFakeProvider extends FakeSandboxProvider {
  override async check(): Promise<void> {
    if (faults.sandboxCheck) throw new Error("bubblewrap missing at /secret/host/path");
  }
}

function faultyStore(): PersistenceAdapter {
  const store = createMemoryPersistenceAdapter();
  return {
    ...store,
    listSessions: async (page) => {
      if (faults.storage === "fail") throw new Error("disk on fire at /secret/db/path");
      if (faults.storage === "hang") return new Promise(() => undefined);
      return store.listSessions(page);
    },
    appendAuditRecords: async (records) => {
      if (faults.audit) throw new Error("audit table locked");
      return store.appendAuditRecords(records);
    },
  };
}

const servers: AgentServer[] = [];
afterEach(async () => {
  Object.assign(faults, { storage: false, audit: false, sandboxCheck: false });
  for (const server of servers.splice(0)) await server.close();
});

async function start(
  options: Partial<AgentServerOptions> = {},
): Promise<{ server: AgentServer; url: string; sandbox: CheckedFakeProvider }> {
  const sandbox = new CheckedFakeProvider(() => undefined);
  const runtime = createAgentRuntime({
    persistence: faultyStore(),
    sandbox,
    agents: [{ id: "test", name: "Test agent" }],
    logger: pino({ level: "silent" }),
    idleTimeoutMs: 0,
  });
  const server = await createAgentServer({
    runtime,
    apiKeys: [ADMIN, { tenant: "alpha", key: KEY_A }, { tenant: "beta", key: KEY_B }],
    rateLimit: false,
    ...options,
  });
  servers.push(server);
  return { server, url: await server.listen({ port: 0 }), sandbox };
}

const call = (url: string, key: string | undefined, method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function scrape(url: string) {
  const response = await call(url, ADMIN, "GET", "/metrics");
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

/** Creates a session as `key` and runs one turn; resolves with its id once the turn ended. */
async function oneTurn(server: AgentServer, url: string, key: string): Promise<string> {
  const created = await call(url, key, "POST", "/sessions", { agentProfileRef: "test" });
  expect(created.status).toBe(201);
  const { sessionId } = (await created.json()) as { sessionId: string };
  const ended = new Promise<void>((resolve) => {
    const stop = server.runtime.sessions.subscribeAll((event) => {
      if (event.sessionId === sessionId && event.type === "session:turn:completed") {
        stop();
        resolve();
      }
    });
  });
  expect((await call(url, key, "POST", `/sessions/${sessionId}/messages`, { content: "Hi" })).status).toBe(
    202,
  );
  await ended;
  return sessionId;
}

describe("GET /ready", () => {
  it("answers 200 without a key while storage and the sandbox provider work", async () => {
    const { url } = await start();
    const response = await call(url, undefined, "GET", "/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ready",
      checks: { storage: { ok: true }, sandbox: { ok: true } },
    });
    // Liveness is unchanged.
    expect((await call(url, undefined, "GET", "/health")).status).toBe(200);
  });

  it("answers 503 NOT_READY naming a failing storage, without its error's details", async () => {
    const { url } = await start();
    faults.storage = "fail";
    const response = await call(url, undefined, "GET", "/ready");
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      error: {
        code: "NOT_READY",
        message: "Not ready: storage",
        details: { checks: { storage: { ok: false }, sandbox: { ok: true } } },
      },
    });
    expect(text).not.toContain("/secret/");
    expect((await call(url, undefined, "GET", "/health")).status).toBe(200);
    faults.storage = false;
    expect((await call(url, undefined, "GET", "/ready")).status).toBe(200);
  });

  it("answers 503 when storage does not answer within the readiness timeout", async () => {
    const { url } = await start({ observability: { readiness: { timeoutMs: 200 } } });
    faults.storage = "hang";
    const response = await call(url, undefined, "GET", "/ready");
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: { details: { checks: { storage: { ok: false } } } },
    });
  });

  it("answers 503 when the sandbox provider's check fails, and reuses a check's result for a while", async () => {
    const { url } = await start({ observability: { readiness: { sandboxCheckCacheMs: 0 } } });
    // After the start, which checks the provider too.
    faults.sandboxCheck = true;
    const response = await call(url, undefined, "GET", "/ready");
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      error: { code: "NOT_READY", details: { checks: { storage: { ok: true }, sandbox: { ok: false } } } },
    });
    expect(text).not.toContain("/secret/");
    faults.sandboxCheck = false;
    const cached = await start({ observability: { readiness: { sandboxCheckCacheMs: 60_000 } } });
    expect((await call(cached.url, undefined, "GET", "/ready")).status).toBe(200);
    faults.sandboxCheck = true;
    expect((await call(cached.url, undefined, "GET", "/ready")).status).toBe(200);
  });
});

describe("GET /metrics", () => {
  it("asks for an admin key; each server of a process counts in a registry of its own", async () => {
    const first = await start();
    const second = await start();
    expect((await call(first.url, undefined, "GET", "/metrics")).status).toBe(401);
    expect((await call(first.url, KEY_A, "GET", "/metrics")).status).toBe(403);
    await oneTurn(first.server, first.url, KEY_A);
    await oneTurn(first.server, first.url, KEY_B);
    await oneTurn(second.server, second.url, KEY_A);
    const one = await scrape(first.url);
    const two = await scrape(second.url);
    expect(one.value("agent_runtime_sessions_loaded")).toBe(2);
    expect(two.value("agent_runtime_sessions_loaded")).toBe(1);
    expect(one.sum("agent_runtime_turns_total", { outcome: "end_turn" })).toBe(2);
    expect(two.sum("agent_runtime_turns_total", { outcome: "end_turn" })).toBe(1);
    expect(
      one.value("agent_runtime_sandbox_create_seconds_count", { provider: "fake", outcome: "success" }),
    ).toBe(2);
    // No tenant label unless asked for.
    expect(one.samples.some((sample) => "tenant" in sample.labels)).toBe(false);
  });

  it("labels per-tenant series with the configured tenants only (others: other)", async () => {
    const { server, url } = await start({ observability: { metrics: { tenantLabels: ["alpha"] } } });
    await oneTurn(server, url, KEY_A);
    await oneTurn(server, url, KEY_B);
    await oneTurn(server, url, ADMIN);
    const metrics = await scrape(url);
    const turns = (tenant: string) =>
      metrics.value("agent_runtime_turns_total", {
        architecture: "claude-agent-sdk",
        outcome: "end_turn",
        tenant,
      });
    expect([turns("alpha"), turns("other"), turns("none")]).toEqual([1, 1, 1]);
    expect(metrics.samples.some((sample) => sample.labels.tenant === "beta")).toBe(false);
  });

  it("counts a failed sandbox creation and its failed turn", async () => {
    const { server, url, sandbox } = await start();
    sandbox.fail("create");
    await oneTurn(server, url, KEY_A);
    const metrics = await scrape(url);
    expect(
      metrics.value("agent_runtime_sandbox_create_seconds_count", { provider: "fake", outcome: "failure" }),
    ).toBe(1);
    expect(
      metrics.value("agent_runtime_sandbox_create_seconds_count", { provider: "fake", outcome: "success" }),
    ).toBeUndefined();
    expect(
      metrics.value("agent_runtime_turns_total", { architecture: "claude-agent-sdk", outcome: "error" }),
    ).toBe(1);
    expect(metrics.value("agent_runtime_sandboxes_running", { provider: "fake" })).toBe(0);
  });

  it("has every metric the Grafana dashboard in docs/ queries", async () => {
    const { server, url } = await start();
    await oneTurn(server, url, KEY_A);
    const metrics = await scrape(url);
    const dashboard = await readFile(
      fileURLToPath(new URL("../../../../docs/observability/grafana-dashboard.json", import.meta.url)),
      "utf8",
    );
    const queried = new Set(
      [...dashboard.matchAll(/\b((?:agent_runtime|process|nodejs)_[a-z0-9_]+)/g)].map(([name]) =>
        name!.replace(/_(bucket|count|sum)$/, ""),
      ),
    );
    expect(queried.size).toBeGreaterThan(10);
    expect([...queried].filter((name) => !metrics.types.has(name))).toEqual([]);
  });

  it("is served without a key by the separate metrics listener, and nothing else is", async () => {
    const { server, url } = await start();
    await oneTurn(server, url, KEY_A);
    const listener = await startMetricsListener(server.metrics, { port: 0 });
    try {
      const response = await fetch(`${listener.url}/metrics`);
      expect(response.status).toBe(200);
      const metrics = parsePrometheusText(await response.text());
      expect(metrics.value("agent_runtime_sessions_loaded")).toBe(1);
      expect((await fetch(`${listener.url}/sessions`)).status).toBe(404);
    } finally {
      await listener.close();
    }
  });
});

describe("audit trail storage", () => {
  it("counts a failed write of audit records, keeps them, and stores them once storage recovers", async () => {
    const { url } = await start();
    faults.audit = true;
    const created = await call(url, KEY_A, "POST", "/sessions", { agentProfileRef: "test" });
    const { sessionId } = (await created.json()) as { sessionId: string };
    // The record is written once the answer is sent; each attempt while storage fails is counted.
    await expect
      .poll(async () =>
        (await scrape(url)).value("agent_runtime_persistence_failures_total", { operation: "audit" }),
      )
      .toBeGreaterThanOrEqual(1);
    faults.audit = false;
    const response = await call(url, ADMIN, "GET", `/audit?sessionId=${sessionId}`);
    expect(response.status).toBe(200);
    const { records } = (await response.json()) as ListAuditResponse;
    expect(records.map((record) => [record.action, record.tenantId, record.outcome])).toEqual([
      ["session.create", "alpha", "success"],
    ]);
    // Without tracing, records carry no trace id.
    expect(records[0]!.traceId).toBeUndefined();
  });

  it("audits refused changes: a missing key, a foreign session", async () => {
    const { url } = await start();
    const created = await call(url, KEY_A, "POST", "/sessions", { agentProfileRef: "test" });
    const { sessionId } = (await created.json()) as { sessionId: string };
    expect((await call(url, undefined, "DELETE", `/sessions/${sessionId}`)).status).toBe(401);
    expect((await call(url, KEY_B, "DELETE", `/sessions/${sessionId}`)).status).toBe(404);
    const all = (await (await call(url, ADMIN, "GET", "/audit")).json()) as ListAuditResponse;
    const deletes = all.records.filter((record) => record.action === "session.delete");
    expect(deletes.map((record) => [record.role, record.tenantId, record.status, record.errorCode])).toEqual([
      ["tenant", "beta", 404, "SESSION_NOT_FOUND"],
      ["anonymous", undefined, 401, "UNAUTHORIZED"],
    ]);
    // Beta's trail has its own refused attempt; alpha's has no trace of it.
    const beta = (await (await call(url, KEY_B, "GET", "/audit")).json()) as ListAuditResponse;
    expect(beta.records.map((record) => record.action)).toEqual(["session.delete"]);
    const alpha = (await (await call(url, KEY_A, "GET", "/audit")).json()) as ListAuditResponse;
    expect(alpha.records.map((record) => record.action)).toEqual(["session.create"]);
  });
});
