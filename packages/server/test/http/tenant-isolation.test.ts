import { randomUUID } from "node:crypto";
import type { SessionData, SessionSummary } from "@agent-runtime/protocol";
import { pino } from "pino";
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentServer,
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
const SECRET = "alpha's secret";

/** A server over an in-memory store and fake sandboxes: what tenancy decides needs no real agent. */
async function startTenantServer(): Promise<{ server: AgentServer; url: string }> {
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
  });
  return { server, url: await server.listen({ port: 0 }) };
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

async function createSession(
  url: string,
  key: string,
  body: Record<string, unknown> = {},
): Promise<SessionSummary> {
  const response = await fetch(
    `${url}/sessions`,
    as(key, { method: "POST", json: { agentProfileRef: "test", ...body } }),
  );
  if (response.status !== 201) throw new Error(`create session: ${response.status} ${await response.text()}`);
  return (await response.json()) as SessionSummary;
}

async function putSecret(url: string, key: string, sessionId: string): Promise<void> {
  const put = await fetch(`${url}/sessions/${sessionId}/files/secret.txt`, {
    ...as(key, { method: "PUT", headers: { "content-type": "application/octet-stream" } }),
    body: SECRET,
  });
  expect(put.status).toBe(204);
}

/** Every session `key` lists, paging `limit` at a time. */
async function listAll(url: string, key: string, limit = 200): Promise<SessionSummary[]> {
  const all: SessionSummary[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const response = await fetch(`${url}/sessions?${query}`, as(key));
    expect(response.status).toBe(200);
    const page = (await response.json()) as { sessions: SessionSummary[]; nextCursor: string | null };
    all.push(...page.sessions);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** One operation of the OpenAPI document, with a request that reaches its handler for the session's owner. */
interface Operation {
  readonly method: string;
  /** As the document names it, e.g. `/sessions/{id}/files/{*}`. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** Operations that name no session; each is checked elsewhere in this file or reaches no tenant's data. */
const NOT_SESSION_SCOPED = new Set([
  "GET /health",
  "GET /agent-architectures",
  "GET /agent-profiles",
  "GET /agent-profiles/{id}",
  "GET /sessions",
  "POST /sessions",
  "POST /sessions/create",
  "POST /auth/tokens",
  "GET /usage",
  "GET /tenants/{id}/usage",
  "GET /metrics",
  "GET /ready",
  "GET /audit",
]);

/** Valid requests per operation (the default: no body): what the owner's request needs to pass validation. */
const REQUESTS: Record<string, Pick<Operation, "headers" | "body">> = {
  "POST /sessions/{id}/messages": {
    headers: { "content-type": "application/json" },
    body: '{"content":"hello"}',
  },
  "POST /sessions/{id}/message": {
    headers: { "content-type": "application/json" },
    body: '{"content":"hello"}',
  },
  "POST /sessions/{id}/permissions/{requestId}": {
    headers: { "content-type": "application/json" },
    body: '{"decision":"allow"}',
  },
  "PATCH /sessions/{id}": {
    headers: { "content-type": "application/json" },
    body: '{"sessionOptions":{}}',
  },
  "PUT /sessions/{id}/files/{*}": {
    headers: { "content-type": "application/octet-stream" },
    body: "overwritten",
  },
};

/** The request of `op` on session `sessionId` with `key`; its status and body, the request id and session id masked. */
async function answer(
  url: string,
  op: Operation,
  key: string,
  sessionId: string,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; contentType: string | null; body: string }> {
  const path = op.path
    .replace("{id}", sessionId)
    .replace("{*}", "secret.txt")
    .replace("{subagentId}", "subagent-1")
    .replace("{requestId}", "request-1");
  const controller = new AbortController();
  const response = await fetch(`${url}${path}`, {
    method: op.method,
    headers: { authorization: `Bearer ${key}`, ...op.headers, ...extraHeaders },
    ...(op.body === undefined ? {} : { body: op.body }),
    signal: controller.signal,
  });
  // A stream the owner opened (SSE) is not read to its end.
  const streaming = response.headers.get("content-type")?.startsWith("text/event-stream");
  const text = streaming ? "" : await response.text();
  controller.abort();
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: text.replaceAll(sessionId, "<session>").replace(/"requestId":"[^"]*"/g, '"requestId":"<request>"'),
  };
}

function errorCode(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** A's session as its owner sees it, without what reading it changes. */
async function stateOf(url: string, sessionId: string) {
  const response = await fetch(`${url}/sessions/${sessionId}`, as(KEY_A));
  expect(response.status).toBe(200);
  const { runtime, ...data } = (await response.json()) as SessionData;
  const secret = await fetch(`${url}/sessions/${sessionId}/files/secret.txt`, as(KEY_A));
  return { data, sandboxStatus: runtime.sandboxStatus, busy: runtime.busy, secret: await secret.text() };
}

/** Issue 17, RELIABILITY case 12: a key of one tenant reached every other tenant's sessions. */
describe("tenant keys", () => {
  let server: AgentServer;
  let url: string;
  let operations: Operation[];
  /** A browser token of tenant B, which must answer as B's key does. */
  let tokenB: string;

  beforeAll(async () => {
    ({ server, url } = await startTenantServer());
    const minted = await fetch(`${url}/auth/tokens`, as(KEY_B, { method: "POST", json: {} }));
    tokenB = ((await minted.json()) as { token: string }).token;
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => {
        const op = { method: method.toUpperCase(), path };
        return { ...op, ...REQUESTS[`${op.method} ${op.path}`] };
      }),
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it("keep tenant B from reading tenant A's secret.txt and from deleting A's session", async () => {
    const { sessionId } = await createSession(url, KEY_A);
    await putSecret(url, KEY_A, sessionId);

    const read = await fetch(`${url}/sessions/${sessionId}/files/secret.txt`, as(KEY_B));
    expect(read.status).toBe(404);
    expect(await read.text()).not.toContain(SECRET);
    const deleted = await fetch(`${url}/sessions/${sessionId}`, as(KEY_B, { method: "DELETE" }));
    expect(deleted.status).toBe(404);

    const mine = await fetch(`${url}/sessions/${sessionId}/files/secret.txt`, as(KEY_A));
    expect(mine.status).toBe(200);
    expect(await mine.text()).toBe(SECRET);
  });

  it("covers every operation of /openapi.json: each names a session or is known to name none", () => {
    const unclassified = operations.filter(
      (op) => !NOT_SESSION_SCOPED.has(`${op.method} ${op.path}`) && !op.path.startsWith("/sessions/{id}"),
    );
    expect(unclassified.map((op) => `${op.method} ${op.path}`)).toEqual([]);
    expect(operations.filter((op) => op.path.startsWith("/sessions/{id}")).length).toBeGreaterThanOrEqual(13);
  });

  it("answer tenant B on A's session exactly as on a missing session, on every session operation, and change nothing of A's", async () => {
    const { sessionId: theirs } = await createSession(url, KEY_A);
    await putSecret(url, KEY_A, theirs);
    const before = await stateOf(url, theirs);
    const scoped = operations.filter((op) => op.path.startsWith("/sessions/{id}"));
    const variants: { label: string; headers: Record<string, string>; methods?: string[] }[] = [
      { label: "", headers: {} },
      { label: " (SSE)", headers: { accept: "text/event-stream" }, methods: ["GET"] },
      {
        label: " (Last-Event-ID)",
        headers: { accept: "text/event-stream", "last-event-id": "0" },
        methods: ["GET"],
      },
    ];
    for (const op of scoped) {
      for (const variant of variants) {
        if (variant.methods && !variant.methods.includes(op.method)) continue;
        for (const [credential, by] of [
          [KEY_B, "B's key"],
          [tokenB, "B's token"],
        ] as const) {
          const name = `${op.method} ${op.path}${variant.label} by ${by}`;
          const onTheirs = await answer(url, op, credential, theirs, variant.headers);
          const onMissing = await answer(url, op, credential, randomUUID(), variant.headers);
          expect(onTheirs, name).toEqual(onMissing);
          expect(onTheirs.status, name).toBe(404);
          expect(errorCode(onTheirs.body), name).toBe("SESSION_NOT_FOUND");
          if (op.method === "GET") {
            const head = await fetch(
              `${url}${op.path.replace("{id}", theirs).replace("{*}", "secret.txt")}`,
              {
                ...as(credential),
                method: "HEAD",
              },
            );
            expect(head.status, `HEAD ${op.path} by ${by}`).toBe(404);
          }
        }
        const name = `${op.method} ${op.path}${variant.label}`;

        // The same request reaches the handler for the owner and an admin (a fresh session each, as it may delete it).
        for (const key of [KEY_A, ADMIN]) {
          const { sessionId: probe } = await createSession(url, KEY_A);
          await putSecret(url, KEY_A, probe);
          const own = await answer(url, op, key, probe, variant.headers);
          expect(own.status, `${name} by ${key}`).not.toBe(400);
          expect(errorCode(own.body), `${name} by ${key}`).not.toBe("SESSION_NOT_FOUND");
        }
      }
    }
    expect(await stateOf(url, theirs)).toEqual(before);
    expect(before.secret).toBe(SECRET);
  });

  it("list only the tenant's sessions, on every page; an admin lists every tenant's", async () => {
    const alpha = [await createSession(url, KEY_A), await createSession(url, KEY_A)];
    const beta = [
      await createSession(url, KEY_B),
      await createSession(url, KEY_B),
      await createSession(url, KEY_B),
    ];
    for (const limit of [1, 2, 200]) {
      const listedByB = await listAll(url, KEY_B, limit);
      expect(
        listedByB.every((session) => session.tenantId === "beta"),
        `limit ${limit}`,
      ).toBe(true);
      expect(listedByB.map((s) => s.sessionId)).toEqual(expect.arrayContaining(beta.map((s) => s.sessionId)));
      const listedByA = await listAll(url, KEY_A, limit);
      expect(
        listedByA.every((session) => session.tenantId === "alpha"),
        `limit ${limit}`,
      ).toBe(true);
    }
    const listedByAdmin = (await listAll(url, ADMIN)).map((s) => s.sessionId);
    expect(listedByAdmin).toEqual(expect.arrayContaining([...alpha, ...beta].map((s) => s.sessionId)));

    // An admin's cursor does not widen a tenant's page.
    const adminPage = (await (await fetch(`${url}/sessions?limit=1`, as(ADMIN))).json()) as {
      nextCursor: string;
    };
    const fromCursor = await fetch(
      `${url}/sessions?cursor=${encodeURIComponent(adminPage.nextCursor)}`,
      as(KEY_B),
    );
    const { sessions } = (await fromCursor.json()) as { sessions: SessionSummary[] };
    expect(sessions.every((session) => session.tenantId === "beta")).toBe(true);
  });

  it("create a tenant's sessions in that tenant; an admin names the tenant in the body, or none", async () => {
    expect((await createSession(url, KEY_A)).tenantId).toBe("alpha");
    expect((await createSession(url, KEY_A, { tenantId: "alpha" })).tenantId).toBe("alpha");
    const refused = await fetch(
      `${url}/sessions`,
      as(KEY_A, { method: "POST", json: { agentProfileRef: "test", tenantId: "beta" } }),
    );
    expect(refused.status).toBe(403);
    expect(errorCode(await refused.text())).toBe("FORBIDDEN");
    const invalid = await fetch(
      `${url}/sessions`,
      as(ADMIN, { method: "POST", json: { agentProfileRef: "test", tenantId: "no spaces" } }),
    );
    expect(invalid.status).toBe(400);

    const forBeta = await createSession(url, ADMIN, { tenantId: "beta" });
    expect(forBeta.tenantId).toBe("beta");
    expect((await fetch(`${url}/sessions/${forBeta.sessionId}`, as(KEY_B))).status).toBe(200);
    expect((await fetch(`${url}/sessions/${forBeta.sessionId}`, as(KEY_A))).status).toBe(404);

    const ofNone = await createSession(url, ADMIN);
    expect(ofNone.tenantId).toBeUndefined();
    for (const key of [KEY_A, KEY_B]) {
      expect((await fetch(`${url}/sessions/${ofNone.sessionId}`, as(key))).status).toBe(404);
      expect((await listAll(url, key)).map((s) => s.sessionId)).not.toContain(ofNone.sessionId);
    }
    expect((await fetch(`${url}/sessions/${ofNone.sessionId}`, as(ADMIN))).status).toBe(200);
  });

  it("share the agent profiles between tenants", async () => {
    for (const key of [KEY_A, KEY_B]) {
      const response = await fetch(`${url}/agent-profiles/test`, as(key));
      expect(response.status).toBe(200);
    }
  });

  describe("on the socket", () => {
    const sockets: Socket[] = [];
    const connect = async (token: string) => {
      const socket = await connectSocket(url, { token });
      sockets.push(socket);
      return socket;
    };
    afterAll(() => {
      for (const socket of sockets) socket.close();
    });

    /** Everything `socket` receives, in order. */
    const record = (socket: Socket) => {
      const received: { event: string; payload: unknown }[] = [];
      socket.onAny((event: string, payload: unknown) => received.push({ event, payload }));
      return received;
    };
    const emit = <T>(socket: Socket, event: string, payload?: unknown): Promise<T> =>
      new Promise((resolve) =>
        payload === undefined ? socket.emit(event, resolve) : socket.emit(event, payload, resolve),
      );
    const mask = (ack: unknown, sessionId: string) =>
      JSON.parse(
        JSON.stringify(ack)
          .replaceAll(sessionId, "<session>")
          .replace(/"requestId":"[^"]*"/g, '"requestId":"<request>"'),
      );

    it("answer B's join of A's session as a join of a missing one, and send B none of its events", async () => {
      const { sessionId: theirs } = await createSession(url, KEY_A);
      const b = await connect(KEY_B);
      const receivedByB = record(b);
      for (const afterSeq of [undefined, 0, 5]) {
        const missing = randomUUID();
        const payload = (sessionId: string) =>
          afterSeq === undefined ? { sessionId } : { sessionId, afterSeq };
        const onTheirs = await emit(b, "session:join", payload(theirs));
        const onMissing = await emit(b, "session:join", payload(missing));
        expect(mask(onTheirs, theirs), `afterSeq ${afterSeq}`).toEqual(mask(onMissing, missing));
        expect(onTheirs).toMatchObject({ ok: false, error: { code: "SESSION_NOT_FOUND" } });
      }

      // The owner and an admin join, and A's session has a turn, a file written and one deleted.
      const a = await connect(KEY_A);
      const admin = await connect(ADMIN);
      const receivedByA = record(a);
      const receivedByAdmin = record(admin);
      expect(await emit(a, "session:join", { sessionId: theirs, afterSeq: 0 })).toMatchObject({ ok: true });
      expect(await emit(admin, "session:join", { sessionId: theirs, afterSeq: 0 })).toMatchObject({
        ok: true,
      });
      const sent = await fetch(
        `${url}/sessions/${theirs}/messages`,
        as(KEY_A, { method: "POST", json: { content: "hi" } }),
      );
      expect(sent.status).toBe(202);
      await putSecret(url, KEY_A, theirs);
      await fetch(`${url}/sessions/${theirs}/files/secret.txt`, as(KEY_A, { method: "DELETE" }));
      await fetch(`${url}/sessions/${theirs}/interrupt`, as(KEY_A, { method: "POST" }));
      const turnEnded = (received: { event: string }[]) =>
        received.some((r) => r.event === "session:turn:completed");
      await until(() => turnEnded(receivedByA) && turnEnded(receivedByAdmin));
      // B's socket still works, and was told nothing of A's session.
      expect(await emit(b, "sessions:unsubscribe")).toEqual({ ok: true });
      expect(receivedByB.filter((r) => JSON.stringify(r.payload).includes(theirs))).toEqual([]);
    });

    it("keep the live session list to the tenant's sessions; an admin's holds every tenant's", async () => {
      const b = await connect(KEY_B);
      const a = await connect(KEY_A);
      const admin = await connect(ADMIN);
      const lists = new Map<Socket, { event: string; payload: unknown }[]>();
      for (const socket of [a, b, admin]) lists.set(socket, record(socket));
      const subscribed = await emit<{ ok: boolean; sessions: SessionSummary[] }>(b, "sessions:subscribe");
      expect(subscribed.ok).toBe(true);
      expect(subscribed.sessions.length).toBeGreaterThan(0);
      expect(subscribed.sessions.every((session) => session.tenantId === "beta")).toBe(true);
      await emit(a, "sessions:subscribe");
      const adminList = await emit<{ sessions: SessionSummary[] }>(admin, "sessions:subscribe");
      expect(new Set(adminList.sessions.map((s) => s.tenantId))).toEqual(
        new Set(["alpha", "beta", undefined]),
      );

      const { sessionId: theirs } = await createSession(url, KEY_A);
      await fetch(
        `${url}/sessions/${theirs}/messages`,
        as(KEY_A, { method: "POST", json: { content: "hi" } }),
      );
      const forTheirs = (socket: Socket) =>
        lists
          .get(socket)!
          .filter((r) => r.event.startsWith("sessions:") && JSON.stringify(r.payload).includes(theirs));
      await until(() =>
        forTheirs(a).some(
          (r) =>
            r.event === "sessions:updated" &&
            (r.payload as { session: SessionSummary }).session.runtime.busy === false &&
            (r.payload as { session: SessionSummary }).session.lastSeq > 0,
        ),
      );
      expect((await fetch(`${url}/sessions/${theirs}`, as(KEY_A, { method: "DELETE" }))).status).toBe(204);
      await until(
        () =>
          forTheirs(a).some((r) => r.event === "sessions:deleted") &&
          forTheirs(admin).some((r) => r.event === "sessions:deleted"),
      );

      // B's own changes still reach B.
      const { sessionId: own } = await createSession(url, KEY_B);
      await until(() => lists.get(b)!.some((r) => JSON.stringify(r.payload).includes(own)));
      expect(forTheirs(b)).toEqual([]);
      expect(forTheirs(admin).length).toBeGreaterThanOrEqual(2);
    });
  });

  it("rotate keys while running: a removed key is refused on REST, its sockets are disconnected and its streams ended", async () => {
    const { sessionId } = await createSession(url, KEY_B);
    const b = await connectSocket(url, { token: KEY_B });
    const errors: unknown[] = [];
    b.on("error", (error: unknown) => errors.push(error));
    const disconnected = new Promise<void>((resolve) => b.once("disconnect", () => resolve()));
    const a = await connectSocket(url, { token: KEY_A });
    const stream = await fetch(
      `${url}/sessions/${sessionId}/events`,
      as(KEY_B, { headers: { accept: "text/event-stream" } }),
    );
    expect(stream.status).toBe(200);
    const streamed = stream.text();
    try {
      server.replaceApiKeys([ADMIN, { tenant: "alpha", key: KEY_A }, { tenant: "beta", key: "beta-key-2" }]);
      await disconnected;
      expect(await streamed).toMatch(/event: error\ndata: \{"code":"UNAUTHORIZED"/);
      expect(errors).toEqual([expect.objectContaining({ code: "UNAUTHORIZED" })]);
      expect(a.connected).toBe(true);
      expect((await fetch(`${url}/sessions/${sessionId}`, as(KEY_B))).status).toBe(401);
      expect((await fetch(`${url}/sessions/${sessionId}`, as("beta-key-2"))).status).toBe(200);
      await expect(connectSocket(url, { token: KEY_B })).rejects.toMatchObject({
        data: { code: "UNAUTHORIZED" },
      });
      expect(() => server.replaceApiKeys([])).toThrow(/cannot be turned off/);
      expect((await fetch(`${url}/sessions/${sessionId}`, as("beta-key-2"))).status).toBe(200);
    } finally {
      server.replaceApiKeys(API_KEYS);
      a.close();
      b.close();
    }
  });
});

/** A browser token narrowed to one session and to reads (see also `browser-tokens.test.ts`). */
describe("a token limited to given sessions and to reads", () => {
  it("reaches those sessions only, lists and follows only them, and is refused every write", async () => {
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
    });
    const url = await server.listen({ port: 0 });
    const shown = await runtime.sessions.create({ agentProfileRef: "test" }, { tenantId: "alpha" });
    const hidden = await runtime.sessions.create({ agentProfileRef: "test" }, { tenantId: "alpha" });
    const minted = await fetch(
      `${url}/auth/tokens`,
      as(KEY_A, { method: "POST", json: { sessionIds: [shown.id], readOnly: true } }),
    );
    expect(minted.status).toBe(201);
    /** alpha's, narrowed to `shown` and to reads. */
    const { token: readerToken } = (await minted.json()) as { token: string };
    const reader = await connectSocket(url, { token: readerToken });
    try {
      const joined = await new Promise((resolve) =>
        reader.emit("session:join", { sessionId: hidden.id }, resolve),
      );
      expect(joined).toMatchObject({ ok: false, error: { code: "SESSION_NOT_FOUND" } });
      const followed: { event: string; payload: unknown }[] = [];
      reader.onAny((event: string, payload: unknown) => followed.push({ event, payload }));
      const list = await new Promise<{ sessions: SessionSummary[] }>((resolve) =>
        reader.emit("sessions:subscribe", resolve),
      );
      expect(list.sessions.map((s) => s.sessionId)).toEqual([shown.id]);
      const later = await runtime.sessions.create({ agentProfileRef: "test" }, { tenantId: "alpha" });
      shown.sendMessage("hello");
      await until(() => followed.some((f) => f.event === "sessions:updated"));
      await runtime.sessions.destroy(later.id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(new Set(followed.map((f) => JSON.stringify(f.payload).includes(shown.id)))).toEqual(
        new Set([true]),
      );

      expect((await fetch(`${url}/sessions/${shown.id}`, as(readerToken))).status).toBe(200);
      expect((await fetch(`${url}/sessions/${hidden.id}`, as(readerToken))).status).toBe(404);
      const listed = (await (await fetch(`${url}/sessions`, as(readerToken))).json()) as {
        sessions: SessionSummary[];
      };
      expect(listed.sessions.map((s) => s.sessionId)).toEqual([shown.id]);
      for (const [method, path, json] of [
        ["POST", `/sessions/${shown.id}/messages`, { content: "hi" }],
        ["POST", `/sessions/${shown.id}/interrupt`, undefined],
        ["DELETE", `/sessions/${shown.id}`, undefined],
        ["POST", "/sessions", { agentProfileRef: "test" }],
      ] as const) {
        const response = await fetch(`${url}${path}`, as(readerToken, { method, ...(json ? { json } : {}) }));
        expect(response.status, `${method} ${path}`).toBe(403);
        expect(errorCode(await response.text())).toBe("FORBIDDEN");
      }
      expect((await fetch(`${url}/sessions/${hidden.id}`, as(KEY_A, { method: "DELETE" }))).status).toBe(204);
    } finally {
      reader.close();
      await server.close();
    }
  });
});
