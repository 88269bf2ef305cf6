import type { MintTokenResponse, SessionSummary } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRuntimeClient, AgentRuntimeError } from "../src/index.js";
import { type RealServer, startRealServer } from "./support/real-server.js";

/** Resolves once `condition()` holds (checked every 10 ms); rejects after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const TENANT_KEY = "alpha-key";

/** Issue 17: a browser holds a short-lived token and a way to get the next one, never an API key. */
describe("a client with browser tokens against a real server", () => {
  let server: RealServer;
  const clients: AgentRuntimeClient[] = [];

  beforeAll(async () => {
    server = await startRealServer(
      { rules: [] },
      {
        apiKeys: [
          { tenant: "alpha", key: TENANT_KEY },
          { tenant: "beta", key: "beta-key" },
        ],
        tokens: { secret: "the-token-secret-of-this-client-test!" },
        rateLimit: false,
      },
    );
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
  });

  /** What the application's backend does for its browser: mints a token with its tenant's key. */
  const mint = async (ttlSeconds: number): Promise<MintTokenResponse> => {
    const response = await fetch(`${server.url}/auth/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${TENANT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ ttlSeconds }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as MintTokenResponse;
  };

  const client = (options: ConstructorParameters<typeof AgentRuntimeClient>[0]) => {
    const created = new AgentRuntimeClient(options);
    clients.push(created);
    return created;
  };

  it("uses a fixed token on REST and the socket, and reaches only its tenant", async () => {
    const betaSession = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { authorization: "Bearer beta-key", "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    const { sessionId: betaId } = (await betaSession.json()) as SessionSummary;
    const { token } = await mint(600);
    const alpha = client({ apiUrl: server.url, token });
    const created = await alpha.rest.createSession({ agentProfileRef: "test" });
    expect(created.tenantId).toBe("alpha");
    await expect(alpha.rest.getSession(betaId)).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
    const lists: SessionSummary[][] = [];
    alpha.connection.followSessionList({
      onList: (sessions) => lists.push(sessions),
      onUpdated: () => undefined,
      onDeleted: () => undefined,
      onFailed: () => undefined,
    });
    await until(() => lists.length > 0);
    expect(lists[0]!.map((s) => s.sessionId)).toContain(created.sessionId);
    expect(lists[0]!.every((s) => s.tenantId === "alpha")).toBe(true);
  });

  it("calls getToken before the token expires, and reconnects its socket with a fresh one when the server cuts it at expiry", async () => {
    let calls = 0;
    let expiresAt = 0;
    const alpha = client({
      apiUrl: server.url,
      getToken: async () => {
        calls += 1;
        const minted = await mint(4);
        expiresAt = Date.parse(minted.expiresAt);
        return minted;
      },
      tokenRefreshMarginMs: 1000,
    });
    await alpha.rest.listSessions();
    expect(calls).toBe(1);
    const lists: SessionSummary[][] = [];
    alpha.connection.followSessionList({
      onList: (sessions) => lists.push(sessions),
      onUpdated: () => undefined,
      onDeleted: () => undefined,
      onFailed: () => undefined,
    });
    await until(() => alpha.connection.getSnapshot().status === "connected" && lists.length === 1);
    expect(calls).toBe(1);
    // The server disconnects the socket at the token's expiry; the client reconnects with a new token.
    const firstExpiry = expiresAt;
    await until(() => lists.length === 2);
    expect(Date.now()).toBeGreaterThanOrEqual(firstExpiry - 1000);
    expect(alpha.connection.getSnapshot().status).toBe("connected");
    expect(calls).toBe(2);
    // Within the margin before expiry, REST asks for the next token first.
    await new Promise((resolve) => setTimeout(resolve, expiresAt - 1000 - Date.now() + 50));
    const before = calls;
    await alpha.rest.listSessions();
    expect(calls).toBe(before + 1);
  });

  it("calls getToken again when the server answers 401, and retries the request once", async () => {
    const tokens = ["not-a-valid-token", (await mint(600)).token];
    let calls = 0;
    const alpha = client({ apiUrl: server.url, getToken: async () => tokens[calls++]! });
    const page = await alpha.rest.listSessions();
    expect(page.sessions.every((s) => s.tenantId === "alpha")).toBe(true);
    expect(calls).toBe(2);

    let refusals = 0;
    const refused = client({
      apiUrl: server.url,
      getToken: async () => {
        refusals += 1;
        return "never-valid";
      },
    });
    const error = await refused.rest.listSessions().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentRuntimeError);
    expect(error).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    expect(refusals).toBe(2);
  });
});
