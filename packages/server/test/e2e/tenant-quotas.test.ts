import type { SessionData, TenantUsageResponse } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxProvider } from "../../src/index.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const ADMIN = "admin-key";
const KEY_A = "alpha-key";
const KEY_B = "beta-key";
const API_KEYS = [ADMIN, { tenant: "alpha", key: KEY_A }, { tenant: "beta", key: KEY_B }];

/**
 * Issue 17 and RELIABILITY case 16 (quotas): with real sandboxes and the
 * real Claude Code, a tenant at its sandbox limit is refused and no sandbox
 * is started, while another tenant is unaffected; usage (tokens,
 * sandbox-seconds) is totalled per tenant and survives a restart.
 */
describe("tenant quotas with real sandboxes", () => {
  let server: TestServer;
  /** Sandbox names the provider was asked to create, in order. */
  const created: string[] = [];
  const counting = (local: SandboxProvider): SandboxProvider => ({
    id: local.id,
    capabilities: local.capabilities,
    check: () => local.check(),
    create(spec) {
      created.push(spec.name);
      return local.create(spec);
    },
    remove: (name) => local.remove(name),
    ...(local.prepareLayer ? { prepareLayer: (spec) => local.prepareLayer!(spec) } : {}),
  });
  const start = (dataDir?: string) =>
    startTestServer({
      script: { rules: [{ name: "hello", match: { prompt: "Hello" }, reply: "Hello from the agent." }] },
      apiKeys: API_KEYS,
      wrapSandbox: counting,
      runtime: { quotas: { default: { runningSandboxes: 1 } } },
      ...(dataDir ? { dataDir } : {}),
    });

  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const call = (key: string, method: string, path: string, json?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
  const createSession = async (key: string): Promise<string> =>
    ((await (await call(key, "POST", "/sessions", { agentProfileRef: "test" })).json()) as SessionData)
      .sessionId;
  const session = async (key: string, sessionId: string): Promise<SessionData> =>
    (await (await call(key, "GET", `/sessions/${sessionId}`)).json()) as SessionData;
  const answered = async (key: string, sessionId: string, turns: number): Promise<void> => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const data = await session(key, sessionId);
      const replies = data.blocks.filter(
        (b) => b.type === "assistant_text" && b.content.includes("Hello from the agent"),
      );
      if (replies.length >= turns && !data.runtime.busy) return;
      if (Date.now() > deadline) throw new Error(`no answer: ${JSON.stringify(data.runtime)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  it("refuses a tenant at its sandbox limit with 429 and starts no sandbox; another tenant is unaffected", async () => {
    const [a1, a2, b1] = [await createSession(KEY_A), await createSession(KEY_A), await createSession(KEY_B)];
    expect((await call(KEY_A, "POST", `/sessions/${a1}/messages`, { content: "Hello" })).status).toBe(202);
    await answered(KEY_A, a1, 1);
    expect(created).toHaveLength(1);

    const refused = await call(KEY_A, "POST", `/sessions/${a2}/messages`, { content: "Hello" });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({
      error: { code: "QUOTA_EXCEEDED", details: { quota: "runningSandboxes", limit: 1 } },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(created).toHaveLength(1);
    expect((await session(KEY_A, a2)).runtime.sandboxStatus).toBe("pending");

    expect((await call(KEY_B, "POST", `/sessions/${b1}/messages`, { content: "Hello" })).status).toBe(202);
    await answered(KEY_B, b1, 1);
    expect(created).toHaveLength(2);
    // Alpha's running session goes on in its sandbox.
    expect((await call(KEY_A, "POST", `/sessions/${a1}/messages`, { content: "Hello" })).status).toBe(202);
    await answered(KEY_A, a1, 2);
    expect(created).toHaveLength(2);
  });

  it("totals tokens and sandbox-seconds per tenant, and keeps them across a restart", async () => {
    const before = (await (await call(KEY_A, "GET", "/usage")).json()) as TenantUsageResponse;
    expect(before.tenantId).toBe("alpha");
    expect(before.usage.inputTokens + before.usage.outputTokens).toBeGreaterThan(0);
    expect(before.usage.sandboxSeconds).toBeGreaterThan(0);
    expect(before.current).toMatchObject({ sessions: 2, runningSandboxes: 1 });
    const beta = (await (await call(ADMIN, "GET", "/tenants/beta/usage")).json()) as TenantUsageResponse;
    expect(beta.usage.outputTokens).toBeGreaterThan(0);

    const { dataDir } = server;
    await server.stop();
    server = await start(dataDir);
    const after = (await (await call(ADMIN, "GET", "/tenants/alpha/usage")).json()) as TenantUsageResponse;
    expect(after.usage.inputTokens).toBe(before.usage.inputTokens);
    expect(after.usage.outputTokens).toBe(before.usage.outputTokens);
    // Counted up to the sandbox's teardown at shutdown, so at least what was read before.
    expect(after.usage.sandboxSeconds).toBeGreaterThanOrEqual(before.usage.sandboxSeconds);
    expect(after.current).toMatchObject({ sessions: 2, runningSandboxes: 0 });
  });
});
