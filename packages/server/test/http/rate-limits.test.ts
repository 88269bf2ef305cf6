import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { SocketError, SocketErrorEvent } from "@agent-runtime/protocol";
import { pino } from "pino";
import type { Socket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentRuntime,
  createAgentRuntime,
  createLocalSandboxProvider,
  createMemoryPersistenceAdapter,
} from "../../src/index.js";
import { ApiKeyChecker } from "../../src/transport/api-keys.js";
import { TokenAuthority } from "../../src/transport/auth-tokens.js";
import { Credentials } from "../../src/transport/credentials.js";
import { createHttpApp, type HttpApp } from "../../src/transport/http/http-app.js";
import { connectSocket } from "../support/socket-client.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const KEYS = ["rate-key-a", "rate-key-b"];
const MAX = 5;

/** RELIABILITY case 16: per-caller rate limits on the REST app (a real listening fastify app). */
describe("rate limits", () => {
  let dir: string;
  let runtime: AgentRuntime;
  let app: HttpApp;
  let url: string;

  const get = (path: string, key?: string) =>
    fetch(`${url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-rate-"));
    // Sandboxes run as other users, which must be able to enter it.
    await chmod(dir, 0o711);
    runtime = createAgentRuntime({
      persistence: createMemoryPersistenceAdapter(),
      sandbox: createLocalSandboxProvider({ rootDir: join(dir, "sandboxes") }),
      agents: [{ id: "test", name: "Test agent", systemPrompt: "Test." }],
      model: { baseUrl: "http://127.0.0.1:9", apiKey: "unused" },
      logger: pino({ level: "warn" }),
      idleTimeoutMs: 0,
    });
    await runtime.start();
    app = await createHttpApp({
      runtime,
      credentials: new Credentials(new ApiKeyChecker(KEYS), new TokenAuthority()),
      info: { version: "test", demoModel: false, authRequired: true },
      logger: pino({ level: "warn" }),
      rateLimit: { max: MAX, windowMs: 60_000 },
    });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await app?.close();
    await runtime?.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers 429 RATE_LIMITED with Retry-After once a key used up its window", async () => {
    for (let i = 0; i < MAX; i++) expect((await get("/sessions", KEYS[0])).status).toBe(200);
    const limited = await get("/sessions", KEYS[0]);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await limited.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error.code).toBe("RATE_LIMITED");
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("counts each key on its own", async () => {
    expect((await get("/sessions", KEYS[1])).status).toBe(200);
  });

  it("counts callers without a valid key by address, so guessing keys is limited too", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX + 2; i++) statuses.push((await get("/sessions", `guess-${i}`)).status);
    expect(statuses.slice(0, MAX)).toEqual(Array(MAX).fill(401));
    expect(statuses.slice(MAX)).toEqual([429, 429]);
    // A valid key from the same address still has its own budget.
    expect((await get("/agent-profiles", KEYS[1])).status).toBe(200);
  });

  it("applies a generous default when not configured", async () => {
    const defaults = await createHttpApp({
      runtime,
      credentials: new Credentials(new ApiKeyChecker([]), new TokenAuthority()),
      info: { version: "test", demoModel: false, authRequired: false },
      logger: pino({ level: "warn" }),
    });
    const base = await defaults.listen({ port: 0, host: "127.0.0.1" });
    try {
      const first = await fetch(`${base}/health`);
      expect(first.status).toBe(200);
      expect(first.headers.get("x-ratelimit-limit")).toBe("600");
    } finally {
      await defaults.close();
    }
  });
});

/** RELIABILITY cases 16 and 34: per-caller rate limits on socket events (a real server, real socket.io clients). */
describe("socket event rate limits", () => {
  const RATE = { eventsPerSecond: 2, burst: 5, maxRefusedInARow: 3 };
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ apiKeys: KEYS, server: { socketRateLimit: RATE } });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const unsubscribe = (socket: Socket) =>
    socket.timeout(10_000).emitWithAck("sessions:unsubscribe") as Promise<
      { ok: true } | { ok: false; error: SocketError }
    >;

  it("answers RATE_LIMITED with retryAfter once a key used up its burst, over all its sockets", async () => {
    const [first, second] = await Promise.all([
      connectSocket(server.url, { token: KEYS[0] }),
      connectSocket(server.url, { token: KEYS[0] }),
    ]);
    if (!first || !second) throw new Error("not connected");
    for (let i = 0; i < RATE.burst - 1; i++) expect(await unsubscribe(first)).toEqual({ ok: true });
    expect(await unsubscribe(second)).toEqual({ ok: true });
    const limited = await unsubscribe(second);
    expect(limited).toMatchObject({ ok: false, error: { code: "RATE_LIMITED", retryAfter: 1 } });
    // Without an acknowledgement, the refusal comes as an `error` event naming the event.
    const error = new Promise<SocketErrorEvent>((resolve) => first.once("error", resolve));
    first.emit("session:leave", { sessionId: "s" });
    expect(await error).toMatchObject({ code: "RATE_LIMITED", retryAfter: 1, event: "session:leave" });
    // Another key has its own budget.
    const other = await connectSocket(server.url, { token: KEYS[1] });
    expect(await unsubscribe(other)).toEqual({ ok: true });
    // After `retryAfter`, the key's events are admitted again.
    await delay(1_100);
    expect(await unsubscribe(first)).toEqual({ ok: true });
    for (const socket of [first, second, other]) socket.close();
  });

  it("disconnects a socket that keeps sending over the rate, and tells it why", async () => {
    const socket = await connectSocket(server.url, { token: KEYS[1] });
    const errors: SocketErrorEvent[] = [];
    socket.on("error", (error: SocketErrorEvent) => errors.push(error));
    const reason = new Promise<string>((resolve) => socket.once("disconnect", resolve));
    for (let i = 0; i < RATE.burst + RATE.maxRefusedInARow + 5; i++)
      socket.emit("session:leave", { sessionId: "s" });
    expect(await Promise.race([reason, delay(10_000).then(() => "still connected")])).toBe(
      "io server disconnect",
    );
    // The first refusal in a row and the last one, which disconnected it.
    expect(errors.map((e) => e.code)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
    expect(errors[1]?.message).toMatch(/disconnected/);
  });
});

/**
 * Socket limits behind a reverse proxy: with `trustProxy`, a handshake is
 * counted by the address the trusted proxy forwarded (as HTTP requests
 * are), so clients behind one proxy do not share one bucket; without it,
 * `X-Forwarded-For` is ignored. No keys: every caller is counted by address.
 */
describe("socket limits behind a trusted proxy", () => {
  const RATE = { eventsPerSecond: 1, burst: 3, maxRefusedInARow: 100 };
  const MAX_SOCKETS = 2;
  const servers: TestServer[] = [];
  const sockets: Socket[] = [];

  const start = async (trustProxy?: string): Promise<string> => {
    const server = await startTestServer({
      server: {
        maxSocketsPerCaller: MAX_SOCKETS,
        socketRateLimit: RATE,
        ...(trustProxy === undefined ? {} : { trustProxy }),
      },
    });
    servers.push(server);
    return server.url;
  };
  const from = async (url: string, forwardedFor: string): Promise<Socket> => {
    const socket = await connectSocket(url, { headers: { "x-forwarded-for": forwardedFor } });
    sockets.push(socket);
    return socket;
  };
  const refusalCode = (url: string, forwardedFor: string) =>
    from(url, forwardedFor).then(
      () => "accepted",
      (error: Error & { data?: { code?: string } }) => error.data?.code,
    );
  const unsubscribe = (socket: Socket) =>
    socket.timeout(10_000).emitWithAck("sessions:unsubscribe") as Promise<
      { ok: true } | { ok: false; error: SocketError }
    >;

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    for (const server of servers) await server.dispose();
  });

  it("counts sockets and events per forwarded client address when the proxy is trusted", async () => {
    const url = await start("loopback");
    const first = await from(url, "203.0.113.1");
    await from(url, "203.0.113.1");
    expect(await refusalCode(url, "203.0.113.1")).toBe("TOO_MANY_SOCKETS");
    // Another client behind the same proxy has places of its own…
    const other = await from(url, "203.0.113.2");
    // …and a bucket of its own: the first client's burst used up leaves it untouched.
    for (let i = 0; i < RATE.burst; i++) expect(await unsubscribe(first)).toEqual({ ok: true });
    expect(await unsubscribe(first)).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });
    expect(await unsubscribe(other)).toEqual({ ok: true });
    // The forwarded address is the one right before the trusted proxy: what a client puts before it is not believed.
    expect(await refusalCode(url, "198.51.100.7, 203.0.113.1")).toBe("TOO_MANY_SOCKETS");
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const url = await start("10.0.0.0/8");
    await from(url, "203.0.113.1");
    await from(url, "203.0.113.2");
    expect(await refusalCode(url, "203.0.113.3")).toBe("TOO_MANY_SOCKETS");
  });

  it("ignores X-Forwarded-For without trustProxy", async () => {
    const url = await start();
    await from(url, "203.0.113.1");
    await from(url, "203.0.113.2");
    expect(await refusalCode(url, "203.0.113.3")).toBe("TOO_MANY_SOCKETS");
  });
});
