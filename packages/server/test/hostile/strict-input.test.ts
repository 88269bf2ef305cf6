import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionRecord, SessionSummary } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter } from "../../src/index.js";
import { sessionRecordFixture } from "../../src/testing/persistence-contract.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { expectClientError } from "./error-shape.js";

interface SessionPage {
  sessions: SessionSummary[];
  nextCursor: string | null;
}

/** JSON nested `depth` levels deep: `[[[…]]]`. */
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/**
 * Issue 15: every request body is strict (an unknown field is refused and
 * named, never stored), bounded (strings, arrays, nesting depth) and refused
 * with a 4xx `{error: {code, message, requestId}}`; the session list is paged.
 */
describe("strict, bounded request input", () => {
  let server: TestServer;
  let sessionId: string;
  const post = (path: string, body: string, contentType = "application/json") =>
    fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
  const json = (path: string, body: unknown) => post(path, JSON.stringify(body));

  /** Every session the server lists, walking the pages. */
  async function listAll(limit = 100): Promise<SessionSummary[]> {
    const all: SessionSummary[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
      const response = await fetch(`${server.url}/sessions?${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as SessionPage;
      expect(page.sessions.length).toBeLessThanOrEqual(limit);
      all.push(...page.sessions);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }

  beforeAll(async () => {
    server = await startTestServer();
    const created = await json("/sessions", { agentProfileRef: "test" });
    sessionId = ((await created.json()) as SessionSummary).sessionId;
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("refuses an unknown field with 400 naming it, at any level, and stores nothing", async () => {
    const before = (await listAll()).length;
    const pad = "x".repeat(10 * 1024);
    for (const body of [
      { agentProfileRef: "test", sessionOptions: { model: "m", pad } },
      { agentProfileRef: "test", pad },
      { agentProfileRef: "test", sessionOptions: { permissions: { mode: "bypass", pad } } },
    ]) {
      const error = await expectClientError(await json("/sessions", body), {
        status: 400,
        code: "VALIDATION_FAILED",
      });
      expect(error.error.message).toContain('"pad"');
      expect(error.error.message.length).toBeLessThan(2000);
    }
    const message = await expectClientError(
      await json(`/sessions/${sessionId}/messages`, { content: "hi", pad: 1 }),
      { status: 400, code: "VALIDATION_FAILED" },
    );
    expect(message.error.message).toContain('"pad"');
    const answer = await expectClientError(
      await json(`/sessions/${sessionId}/permissions/nope`, { decision: "allow", pad: 1 }),
      { status: 400, code: "VALIDATION_FAILED" },
    );
    expect(answer.error.message).toContain('"pad"');
    expect((await listAll()).length).toBe(before);
  });

  it("refuses an unknown query parameter", async () => {
    const error = await expectClientError(await fetch(`${server.url}/sessions/${sessionId}/events?pad=1`), {
      status: 400,
      code: "VALIDATION_FAILED",
    });
    expect(error.error.message).toContain('"pad"');
  });

  it("bounds every string and array, and keeps the error message short", async () => {
    // Under the route's body limit, over the schema's bounds.
    const long = "x".repeat(10_000);
    for (const body of [
      { agentProfileRef: long },
      { agentProfileRef: "test", sessionOptions: { model: long } },
      { agentProfileRef: "test", sessionOptions: { permissions: { mode: "ask", tools: [long] } } },
      {
        agentProfileRef: "test",
        sessionOptions: { permissions: { mode: "ask", tools: Array.from({ length: 1000 }, () => "t") } },
      },
    ]) {
      const error = await expectClientError(await json("/sessions", body), {
        status: 400,
        code: "VALIDATION_FAILED",
      });
      expect(error.error.message.length).toBeLessThan(2000);
    }
  });

  it("refuses a body over its route's limit, and one with too many values, with 413 before parsing it", async () => {
    const pad = "x".repeat(100 * 1024);
    await expectClientError(
      await json("/sessions", { agentProfileRef: "test", sessionOptions: { model: pad } }),
      {
        status: 413,
        code: "PAYLOAD_TOO_LARGE",
      },
    );
    await expectClientError(await json(`/sessions/${sessionId}/interrupt`, { pad }), {
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
    });
    // 50,000 keys in 600 KB (under the message route's limit) cost V8 about 90 ms to parse.
    const manyKeys = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`key${i}`, i]));
    for (const path of [`/sessions/${sessionId}/messages`, `/sessions/${sessionId}/files/a.txt`]) {
      const response = await fetch(`${server.url}${path}`, {
        method: path.includes("/files/") ? "PUT" : "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(manyKeys),
      });
      await expectClientError(response, { status: 413, code: "PAYLOAD_TOO_LARGE" });
    }
  });

  it("refuses deeply nested JSON with 400 before parsing it, on every JSON route", async () => {
    // Each under its route's body limit.
    const deep = nested(100_000);
    for (const [path, body] of [
      ["/sessions", `{"agentProfileRef":"test","sessionOptions":{"x":${nested(10_000)}}}`],
      ["/sessions", nested(10_000)],
      [`/sessions/${sessionId}/messages`, `{"content":${deep}}`],
      [`/sessions/${sessionId}/permissions/nope`, `{"decision":${nested(5_000)}}`],
      [`/sessions/${sessionId}/interrupt`, nested(100)],
    ] as const) {
      await expectClientError(await post(path, body), { status: 400, code: "JSON_TOO_DEEP" });
    }
    const put = await fetch(`${server.url}/sessions/${sessionId}/files/a.txt`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: `{"content":${deep}}`,
    });
    await expectClientError(put, { status: 400, code: "JSON_TOO_DEEP" });
    // Brackets inside strings are text, not nesting.
    const model = `[{\\"${"[".repeat(150)}`;
    const created = await post(
      "/sessions",
      `{"agentProfileRef":"test","sessionOptions":{"model":"${model}"}}`,
    );
    expect(created.status).toBe(201);
  });

  it("answers a path segment over the router's limit, or not percent-decodable, with the error shape", async () => {
    await expectClientError(await fetch(`${server.url}/sessions/${"a".repeat(1200)}`), {
      status: 414,
      code: "URI_TOO_LONG",
    });
    await expectClientError(
      await fetch(`${server.url}/sessions/${sessionId}/subagents/${"a".repeat(1200)}`),
      {
        status: 414,
        code: "URI_TOO_LONG",
      },
    );
    await expectClientError(await fetch(`${server.url}/sessions/%E0%A4%A`), { status: 400 });
  });

  it("answers 415 to a body that is not JSON", async () => {
    for (const contentType of ["application/x-www-form-urlencoded", "application/xml", "image/png"]) {
      await expectClientError(await post("/sessions", "agentProfileRef=test", contentType), {
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
      });
    }
  });

  it("pages the session list: a default and a maximum page size, an opaque cursor, no gap or duplicate", async () => {
    for (let i = 0; i < 7; i++)
      expect((await json("/sessions", { agentProfileRef: "test" })).status).toBe(201);
    const all = await listAll();
    const paged = await listAll(3);
    expect(paged.map((s) => s.sessionId)).toEqual(all.map((s) => s.sessionId));
    expect(new Set(paged.map((s) => s.sessionId)).size).toBe(paged.length);
    const updated = all.map((s) => s.updatedAt);
    expect(updated).toEqual([...updated].sort().reverse());

    const first = (await (await fetch(`${server.url}/sessions?limit=3`)).json()) as SessionPage;
    expect(first.sessions).toHaveLength(3);
    expect(typeof first.nextCursor).toBe("string");
    const plain = (await (await fetch(`${server.url}/sessions`)).json()) as SessionPage;
    expect(plain.sessions.length).toBe(Math.min(all.length, 50));

    for (const query of ["limit=0", "limit=1001", "limit=abc", "limit=-1", "cursor=garbage", "cursor="]) {
      await expectClientError(await fetch(`${server.url}/sessions?${query}`), {
        status: 400,
        code: "VALIDATION_FAILED",
      });
    }
  });
});

describe("a database that already holds oversized session records (stored before strict input)", () => {
  let server: TestServer;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-padded-"));
    const persistence = createSqlitePersistenceAdapter({ filename: join(dataDir, "padded.sqlite") });
    await persistence.init();
    const pad = "x".repeat(256 * 1024);
    for (let i = 0; i < 60; i++) {
      const record = sessionRecordFixture({
        agentProfileRef: "test",
        updatedAt: new Date(i * 1000).toISOString(),
      });
      await persistence.createSession({
        ...record,
        sessionOptions: { pad } as SessionRecord["sessionOptions"],
      });
    }
    server = await startTestServer({ dataDir, persistence });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("lists them by page, without the unknown fields", async () => {
    const response = await fetch(`${server.url}/sessions`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text.length).toBeLessThan(200 * 1024);
    const page = JSON.parse(text) as SessionPage;
    expect(page.sessions).toHaveLength(50);
    expect(page.nextCursor).toEqual(expect.any(String));
  });
});
