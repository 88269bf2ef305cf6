import type { SessionSummary } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AgentRuntimeOptions,
  type AgentServer,
  createAgentRuntime,
  createAgentServer,
  createMemoryPersistenceAdapter,
} from "../../src/index.js";
import { createFakeSandboxProvider, type FakeSandboxProvider } from "../../src/testing/index.js";

const ADMIN = "admin-key";
const KEY_A = "alpha-key";
const KEY_B = "beta-key";
const API_KEYS = [ADMIN, { tenant: "alpha", key: KEY_A }, { tenant: "beta", key: KEY_B }];

/** A server over an in-memory store and fake sandboxes (which it counts), with `quotas`. */
async function startServer(
  quotas: AgentRuntimeOptions["quotas"],
): Promise<{ server: AgentServer; url: string; sandboxes: FakeSandboxProvider }> {
  const sandboxes = createFakeSandboxProvider();
  const runtime = createAgentRuntime({
    persistence: createMemoryPersistenceAdapter(),
    sandbox: sandboxes,
    agents: [{ id: "test", name: "Test agent" }],
    logger: pino({ level: "silent" }),
    idleTimeoutMs: 0,
    quotas,
  });
  const server = await createAgentServer({ runtime, apiKeys: API_KEYS, rateLimit: false });
  return { server, url: await server.listen({ port: 0 }), sandboxes };
}

function as(key: string, init: RequestInit & { json?: unknown } = {}): RequestInit {
  const { json, ...rest } = init;
  return {
    ...rest,
    headers: {
      authorization: `Bearer ${key}`,
      ...(json === undefined ? {} : { "content-type": "application/json" }),
      ...(rest.headers as Record<string, string> | undefined),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  };
}

const create = (url: string, key: string) =>
  fetch(`${url}/sessions`, as(key, { method: "POST", json: { agentProfileRef: "test" } }));

async function createSession(url: string, key: string): Promise<SessionSummary> {
  const response = await create(url, key);
  expect(response.status).toBe(201);
  return (await response.json()) as SessionSummary;
}

const send = (url: string, key: string, sessionId: string) =>
  fetch(`${url}/sessions/${sessionId}/messages`, as(key, { method: "POST", json: { content: "hi" } }));

async function refusal(response: Response) {
  const body = (await response.json()) as { error: { code: string; details?: unknown } };
  return { status: response.status, code: body.error.code, details: body.error.details };
}

/** Issue 17: quotas per tenant. */
describe("tenant quotas", () => {
  let server: AgentServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("refuses a session over the tenant's session quota with 429 QUOTA_EXCEEDED and creates nothing; other tenants are unaffected", async () => {
    const started = await startServer({ default: { sessions: 2 } });
    server = started.server;
    const { url } = started;
    await createSession(url, KEY_A);
    const second = await createSession(url, KEY_A);
    expect(await refusal(await create(url, KEY_A))).toMatchObject({
      status: 429,
      code: "QUOTA_EXCEEDED",
      details: { quota: "sessions", limit: 2 },
    });
    const listed = (await (await fetch(`${url}/sessions`, as(KEY_A))).json()) as { sessions: unknown[] };
    expect(listed.sessions).toHaveLength(2);
    await createSession(url, KEY_B);
    await createSession(url, KEY_B);
    // An admin creating for the tenant counts against it too.
    const forAlpha = await fetch(
      `${url}/sessions`,
      as(ADMIN, { method: "POST", json: { agentProfileRef: "test", tenantId: "alpha" } }),
    );
    expect(forAlpha.status).toBe(429);
    expect((await fetch(`${url}/sessions/${second.sessionId}`, as(KEY_A, { method: "DELETE" }))).status).toBe(
      204,
    );
    await createSession(url, KEY_A);
  });

  it("refuses a message that would start a sandbox past the tenant's running-sandbox quota, and starts none", async () => {
    const started = await startServer({
      default: { runningSandboxes: 1 },
      tenants: { beta: { runningSandboxes: 2 } },
    });
    server = started.server;
    const { url, sandboxes } = started;
    const [a1, a2] = [await createSession(url, KEY_A), await createSession(url, KEY_A)];
    expect((await send(url, KEY_A, a1.sessionId)).status).toBe(202);
    expect(sandboxes.sandboxes).toHaveLength(1);
    expect(await refusal(await send(url, KEY_A, a2.sessionId))).toMatchObject({
      status: 429,
      code: "QUOTA_EXCEEDED",
      details: { quota: "runningSandboxes", limit: 1 },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sandboxes.sandboxes).toHaveLength(1);
    const a2Now = (await (
      await fetch(`${url}/sessions/${a2.sessionId}`, as(KEY_A))
    ).json()) as SessionSummary;
    expect(a2Now.runtime.sandboxStatus).toBe("pending");
    // The session that holds the sandbox goes on.
    expect((await send(url, KEY_A, a1.sessionId)).status).toBe(202);
    // Another tenant is unaffected, with its own quota.
    const [b1, b2] = [await createSession(url, KEY_B), await createSession(url, KEY_B)];
    expect((await send(url, KEY_B, b1.sessionId)).status).toBe(202);
    expect((await send(url, KEY_B, b2.sessionId)).status).toBe(202);
    expect(sandboxes.sandboxes).toHaveLength(3);
    // Once alpha's sandbox is gone, its other session may start one.
    expect((await fetch(`${url}/sessions/${a1.sessionId}`, as(KEY_A, { method: "DELETE" }))).status).toBe(
      204,
    );
    expect((await send(url, KEY_A, a2.sessionId)).status).toBe(202);
  });

  it("refuses messages past the tenant's per-minute quota with Retry-After, over all its sessions", async () => {
    const started = await startServer({ default: { messagesPerMinute: 2 } });
    server = started.server;
    const { url } = started;
    const [a1, a2] = [await createSession(url, KEY_A), await createSession(url, KEY_A)];
    expect((await send(url, KEY_A, a1.sessionId)).status).toBe(202);
    expect((await send(url, KEY_A, a2.sessionId)).status).toBe(202);
    const refused = await send(url, KEY_A, a1.sessionId);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(await refusal(refused)).toMatchObject({
      status: 429,
      code: "QUOTA_EXCEEDED",
      details: { quota: "messagesPerMinute", limit: 2 },
    });
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const b1 = await createSession(url, KEY_B);
    expect((await send(url, KEY_B, b1.sessionId)).status).toBe(202);
  });

  it("refuses messages and file writes once the tenant's stored bytes reach its quota", async () => {
    const started = await startServer({ default: { storedBytes: 100 } });
    server = started.server;
    const { url } = started;
    const a1 = await createSession(url, KEY_A);
    const put = (key: string, sessionId: string, bytes: number) =>
      fetch(`${url}/sessions/${sessionId}/files/big.bin`, {
        ...as(key, { method: "PUT", headers: { "content-type": "application/octet-stream" } }),
        body: "x".repeat(bytes),
      });
    expect((await put(KEY_A, a1.sessionId, 150)).status).toBe(204);
    expect(await refusal(await put(KEY_A, a1.sessionId, 10))).toMatchObject({
      status: 429,
      code: "QUOTA_EXCEEDED",
      details: { quota: "storedBytes", limit: 100 },
    });
    expect(await refusal(await send(url, KEY_A, a1.sessionId))).toMatchObject({
      status: 429,
      code: "QUOTA_EXCEEDED",
      details: { quota: "storedBytes" },
    });
    const b1 = await createSession(url, KEY_B);
    expect((await put(KEY_B, b1.sessionId, 10)).status).toBe(204);
    // Deleting the file frees the quota.
    expect(
      (await fetch(`${url}/sessions/${a1.sessionId}/files/big.bin`, as(KEY_A, { method: "DELETE" }))).status,
    ).toBe(204);
    expect((await send(url, KEY_A, a1.sessionId)).status).toBe(202);
  });

  it("answers a tenant's usage at GET /usage and GET /tenants/:id/usage (admin only), with its quotas", async () => {
    const started = await startServer({ default: { sessions: 5, runningSandboxes: 3 } });
    server = started.server;
    const { url } = started;
    const a1 = await createSession(url, KEY_A);
    expect((await send(url, KEY_A, a1.sessionId)).status).toBe(202);
    const own = await fetch(`${url}/usage`, as(KEY_A));
    expect(own.status).toBe(200);
    const usage = (await own.json()) as Record<string, unknown>;
    expect(usage).toMatchObject({
      tenantId: "alpha",
      usage: {
        inputTokens: expect.any(Number),
        outputTokens: expect.any(Number),
        costUsd: expect.any(Number),
        sandboxSeconds: expect.any(Number),
      },
      current: { sessions: 1, runningSandboxes: 1, storedBytes: 0 },
      quota: { sessions: 5, runningSandboxes: 3 },
    });
    const byAdmin = await fetch(`${url}/tenants/alpha/usage`, as(ADMIN));
    expect(byAdmin.status).toBe(200);
    expect(((await byAdmin.json()) as { current: unknown }).current).toEqual(usage.current);
    expect((await refusal(await fetch(`${url}/tenants/alpha/usage`, as(KEY_A)))).status).toBe(403);
    expect((await refusal(await fetch(`${url}/tenants/beta/usage`, as(KEY_A)))).status).toBe(403);
    expect(((await (await fetch(`${url}/usage`, as(KEY_B))).json()) as { current: unknown }).current).toEqual(
      {
        sessions: 0,
        runningSandboxes: 0,
        storedBytes: 0,
      },
    );
    expect((await refusal(await fetch(`${url}/usage`, as(ADMIN)))).code).toBe("VALIDATION_FAILED");
  });
});
