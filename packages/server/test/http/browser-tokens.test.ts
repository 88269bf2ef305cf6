import { randomUUID } from "node:crypto";
import type { SessionSummary } from "@agent-runtime/protocol";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { pino } from "pino";
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentServer,
  type AgentServerOptions,
  createAgentRuntime,
  createAgentServer,
  createMemoryPersistenceAdapter,
} from "../../src/index.js";
import { createFakeSandboxProvider } from "../../src/testing/index.js";
import { connectSocket, until } from "../support/socket-client.js";

const ADMIN = "admin-key";
const KEY_A = "alpha-key";
const KEY_B = "beta-key";
const API_KEYS = [ADMIN, { tenant: "alpha", key: KEY_A }, { tenant: "beta", key: KEY_B }];
const SECRET = "the-token-secret-of-this-test-server!";

/** A server over an in-memory store and fake sandboxes: what a token reaches needs no real agent. */
async function startServer(
  options: Partial<AgentServerOptions> = {},
): Promise<{ server: AgentServer; url: string }> {
  const runtime = createAgentRuntime({
    persistence: createMemoryPersistenceAdapter(),
    sandbox: createFakeSandboxProvider(),
    agents: [{ id: "test", name: "Test agent" }],
    logger: pino({ level: "silent" }),
    idleTimeoutMs: 0,
  });
  const server = await createAgentServer({
    runtime,
    apiKeys: API_KEYS,
    rateLimit: false,
    socketRateLimit: false,
    tokens: { secret: SECRET },
    ...options,
  });
  return { server, url: await server.listen({ port: 0 }) };
}

function as(credential: string, init: RequestInit & { json?: unknown } = {}): RequestInit {
  const { json, ...rest } = init;
  return {
    ...rest,
    headers: {
      authorization: `Bearer ${credential}`,
      ...(json === undefined ? {} : { "content-type": "application/json" }),
      ...(rest.headers as Record<string, string> | undefined),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  };
}

async function mint(url: string, credential: string, body: Record<string, unknown> = {}) {
  const response = await fetch(`${url}/auth/tokens`, as(credential, { method: "POST", json: body }));
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function tokenFor(
  url: string,
  credential: string,
  body: Record<string, unknown> = {},
): Promise<string> {
  const minted = await mint(url, credential, body);
  expect(minted.status, JSON.stringify(minted.body)).toBe(201);
  return minted.body.token as string;
}

async function createSession(url: string, credential: string): Promise<SessionSummary> {
  const response = await fetch(
    `${url}/sessions`,
    as(credential, { method: "POST", json: { agentProfileRef: "test" } }),
  );
  if (response.status !== 201) throw new Error(`create session: ${response.status} ${await response.text()}`);
  return (await response.json()) as SessionSummary;
}

async function errorOf(response: Response): Promise<{ status: number; code: string | undefined }> {
  const body = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, code: body.error?.code };
}

const join = (socket: Socket, sessionId: string) =>
  new Promise<{ ok: boolean; error?: { code: string } }>((resolve) =>
    socket.emit("session:join", { sessionId }, resolve),
  );

/** Issue 17: browsers get short-lived tokens instead of API keys. */
describe("browser tokens", () => {
  let server: AgentServer;
  let url: string;
  let alphaSession: SessionSummary;
  let betaSession: SessionSummary;

  beforeAll(async () => {
    ({ server, url } = await startServer());
    alphaSession = await createSession(url, KEY_A);
    betaSession = await createSession(url, KEY_B);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("mints a token of the key's tenant, answered 201 {token, expiresAt}", async () => {
    const minted = await mint(url, KEY_A, { ttlSeconds: 600 });
    expect(minted.status).toBe(201);
    expect(minted.body).toEqual({ token: expect.any(String), expiresAt: expect.any(String) });
    const lifetime = Date.parse(minted.body.expiresAt as string) - Date.now();
    expect(lifetime).toBeGreaterThan(590_000);
    expect(lifetime).toBeLessThanOrEqual(600_000);
  });

  it("reaches its tenant's sessions only, on REST and on the socket", async () => {
    const token = await tokenFor(url, KEY_A);
    expect((await fetch(`${url}/sessions/${alphaSession.sessionId}`, as(token))).status).toBe(200);
    expect(await errorOf(await fetch(`${url}/sessions/${betaSession.sessionId}`, as(token)))).toEqual({
      status: 404,
      code: "SESSION_NOT_FOUND",
    });
    const listed = (await (await fetch(`${url}/sessions`, as(token))).json()) as {
      sessions: SessionSummary[];
    };
    expect(listed.sessions.length).toBeGreaterThan(0);
    expect(listed.sessions.every((s) => s.tenantId === "alpha")).toBe(true);
    const created = await createSession(url, token);
    expect(created.tenantId).toBe("alpha");

    const socket = await connectSocket(url, { token });
    try {
      expect(await join(socket, alphaSession.sessionId)).toMatchObject({ ok: true });
      expect(await join(socket, betaSession.sessionId)).toMatchObject({
        ok: false,
        error: { code: "SESSION_NOT_FOUND" },
      });
    } finally {
      socket.close();
    }
  });

  it("narrows to the sessions it names, and a read-only token refuses every write with 403", async () => {
    const other = await createSession(url, KEY_A);
    const token = await tokenFor(url, KEY_A, { sessionIds: [alphaSession.sessionId], readOnly: true });
    expect((await fetch(`${url}/sessions/${alphaSession.sessionId}`, as(token))).status).toBe(200);
    expect((await fetch(`${url}/sessions/${other.sessionId}`, as(token))).status).toBe(404);
    for (const [method, path, json] of [
      ["POST", `/sessions/${alphaSession.sessionId}/messages`, { content: "hi" }],
      ["DELETE", `/sessions/${alphaSession.sessionId}`, undefined],
      ["POST", "/sessions", { agentProfileRef: "test" }],
    ] as const) {
      const response = await fetch(`${url}${path}`, as(token, { method, ...(json ? { json } : {}) }));
      expect(await errorOf(response), `${method} ${path}`).toEqual({ status: 403, code: "FORBIDDEN" });
    }
    // A narrowed token mints only as narrow a one.
    expect((await mint(url, token, { readOnly: true })).status).toBe(403);
    expect((await mint(url, token, { sessionIds: [alphaSession.sessionId], readOnly: true })).status).toBe(
      403,
    );
    const socket = await connectSocket(url, { token });
    try {
      expect(await join(socket, other.sessionId)).toMatchObject({ error: { code: "SESSION_NOT_FOUND" } });
      expect(await join(socket, alphaSession.sessionId)).toMatchObject({ ok: true });
    } finally {
      socket.close();
    }
  });

  it("is refused for another tenant by a tenant's key; an admin key mints for any tenant", async () => {
    expect((await mint(url, KEY_A, { tenant: "beta" })).status).toBe(403);
    const forBeta = await tokenFor(url, ADMIN, { tenant: "beta" });
    expect((await fetch(`${url}/sessions/${betaSession.sessionId}`, as(forBeta))).status).toBe(200);
    expect((await fetch(`${url}/sessions/${alphaSession.sessionId}`, as(forBeta))).status).toBe(404);
    expect((await mint(url, KEY_A, { ttlSeconds: 10 ** 9 })).status).toBe(400);
    expect((await mint(url, "not-a-key")).status).toBe(401);
  });

  it("answers 401 to a tampered token, a token of another server's secret and an expired one", async () => {
    const token = await tokenFor(url, KEY_A);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const widened = `${header}.${Buffer.from(JSON.stringify({ ...claims, tenant: "beta" })).toString("base64url")}.${signature}`;
    const other = await startServer({ tokens: { secret: "another-server's-secret-of-32-bytes!" } });
    const foreign = await tokenFor(other.url, KEY_A);
    await other.server.close();
    const expired = await new SignJWT({ tenant: "alpha" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("agent-runtime")
      .setAudience("agent-runtime")
      .setSubject((claims.sub as string) ?? "")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 5)
      .sign(new TextEncoder().encode(SECRET));
    for (const [label, bad, code] of [
      ["tampered", widened, "UNAUTHORIZED"],
      ["foreign", foreign, "UNAUTHORIZED"],
      ["expired", expired, "TOKEN_EXPIRED"],
    ] as const) {
      const response = await fetch(`${url}/sessions/${betaSession.sessionId}`, as(bad));
      expect(await errorOf(response), label).toEqual({ status: 401, code });
      await expect(connectSocket(url, { token: bad }), label).rejects.toMatchObject({ data: { code } });
    }
  });

  it("disconnects a socket whose token expires with an error event TOKEN_EXPIRED, and ends its SSE stream", async () => {
    const minted = await mint(url, KEY_A, { ttlSeconds: 2 });
    const token = minted.body.token as string;
    const socket = await connectSocket(url, { token });
    const errors: unknown[] = [];
    socket.on("error", (error: unknown) => errors.push(error));
    let disconnectedAt = 0;
    socket.once("disconnect", () => {
      disconnectedAt = Date.now();
    });
    expect(await join(socket, alphaSession.sessionId)).toMatchObject({ ok: true });
    const stream = await fetch(
      `${url}/sessions/${alphaSession.sessionId}/events`,
      as(token, { headers: { accept: "text/event-stream" } }),
    );
    expect(stream.status).toBe(200);
    const streamed = stream.text();
    await until(() => disconnectedAt > 0, 5000);
    expect(disconnectedAt).toBeGreaterThanOrEqual(Date.parse(minted.body.expiresAt as string));
    expect(errors).toEqual([expect.objectContaining({ code: "TOKEN_EXPIRED" })]);
    expect(await streamed).toMatch(/event: error\ndata: \{"code":"TOKEN_EXPIRED"/);
    expect(await errorOf(await fetch(`${url}/sessions/${alphaSession.sessionId}`, as(token)))).toEqual({
      status: 401,
      code: "TOKEN_EXPIRED",
    });
  });

  it("stops working when the key that minted it is removed", async () => {
    const token = await tokenFor(url, KEY_B);
    const socket = await connectSocket(url, { token });
    const disconnected = new Promise<void>((resolve) => socket.once("disconnect", () => resolve()));
    try {
      server.replaceApiKeys([ADMIN, { tenant: "alpha", key: KEY_A }, { tenant: "beta", key: "beta-key-2" }]);
      await disconnected;
      expect((await fetch(`${url}/sessions/${betaSession.sessionId}`, as(token))).status).toBe(401);
    } finally {
      server.replaceApiKeys(API_KEYS);
      socket.close();
    }
  });
});

describe("tokens an application signs with its own key", () => {
  it("are accepted with the configured JWKS, issuer and audience, and refused otherwise", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "app-1", alg: "ES256" };
    const { server, url } = await startServer({
      tokens: {
        secret: SECRET,
        application: { jwks: { keys: [jwk] }, issuer: "my-app", audience: "runtime" },
      },
    });
    try {
      const session = await createSession(url, KEY_A);
      const sign = (issuer: string) =>
        new SignJWT({ tenant: "alpha" })
          .setProtectedHeader({ alg: "ES256", kid: "app-1" })
          .setIssuer(issuer)
          .setAudience("runtime")
          .setSubject("user-7")
          .setExpirationTime("5m")
          .sign(privateKey);
      expect((await fetch(`${url}/sessions/${session.sessionId}`, as(await sign("my-app")))).status).toBe(
        200,
      );
      expect((await fetch(`${url}/sessions/${session.sessionId}`, as(await sign("someone")))).status).toBe(
        401,
      );
      const socket = await connectSocket(url, { token: await sign("my-app") });
      expect(await join(socket, session.sessionId)).toMatchObject({ ok: true });
      expect(await join(socket, randomUUID())).toMatchObject({ error: { code: "SESSION_NOT_FOUND" } });
      socket.close();
    } finally {
      await server.close();
    }
  });
});
