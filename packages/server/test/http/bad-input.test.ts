import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

interface ErrorBody {
  error: { code: string; message: string; requestId?: string };
}

async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/json");
  const body = (await response.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at /);
  return body;
}

describe("bad input gets a clear JSON error and the server keeps serving", () => {
  let server: TestServer;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("malformed JSON → 400 INVALID_JSON", async () => {
    await expectError(await post("/sessions", "{not json"), 400, "INVALID_JSON");
  });

  it("missing fields → 400 VALIDATION_FAILED naming the field", async () => {
    const body = await expectError(await post("/sessions", "{}"), 400, "VALIDATION_FAILED");
    expect(body.error.message).toContain("agentProfileRef");
  });

  it("unknown architecture → 400", async () => {
    await expectError(
      await post("/sessions", JSON.stringify({ agentProfileRef: "test", architecture: "nope" })),
      400,
      "VALIDATION_FAILED",
    );
  });

  it("unknown profile → 404 PROFILE_NOT_FOUND", async () => {
    await expectError(
      await post("/sessions", JSON.stringify({ agentProfileRef: "missing" })),
      404,
      "PROFILE_NOT_FOUND",
    );
  });

  it("unknown session id → 404 SESSION_NOT_FOUND on every session route", async () => {
    const id = "00000000-0000-0000-0000-000000000000";
    await expectError(await fetch(`${server.url}/sessions/${id}`), 404, "SESSION_NOT_FOUND");
    await expectError(
      await post(`/sessions/${id}/messages`, JSON.stringify({ content: "hi" })),
      404,
      "SESSION_NOT_FOUND",
    );
    await expectError(await post(`/sessions/${id}/interrupt`, "{}"), 404, "SESSION_NOT_FOUND");
    await expectError(await fetch(`${server.url}/sessions/${id}/files`), 404, "SESSION_NOT_FOUND");
    await expectError(
      await fetch(`${server.url}/sessions/${id}`, { method: "DELETE" }),
      404,
      "SESSION_NOT_FOUND",
    );
  });

  it("empty message and hostile file paths → 400", async () => {
    const created = (await (await post("/sessions", JSON.stringify({ agentProfileRef: "test" }))).json()) as {
      sessionId: string;
    };
    await expectError(
      await post(`/sessions/${created.sessionId}/messages`, JSON.stringify({ content: "" })),
      400,
      "VALIDATION_FAILED",
    );
    for (const path of ["..%2f..%2fetc%2fpasswd", "a/%2e%2e/%2e%2e/etc/passwd", "%2fetc%2fpasswd", "a%00b"]) {
      const response = await fetch(`${server.url}/sessions/${created.sessionId}/files/${path}`);
      expect([400, 404]).toContain(response.status);
      const text = await response.text();
      expect(text).not.toContain("root:");
    }
    await expectError(
      await fetch(`${server.url}/sessions/${created.sessionId}/files/..%2f..%2fetc%2fpasswd`),
      400,
      "INVALID_PATH",
    );
    await expectError(
      await fetch(`${server.url}/sessions/${created.sessionId}/files/missing.txt`),
      404,
      "FILE_NOT_FOUND",
    );
  });

  it("an image attachment of an unsupported type → 400 naming the type and the accepted ones", async () => {
    const created = (await (await post("/sessions", JSON.stringify({ agentProfileRef: "test" }))).json()) as {
      sessionId: string;
    };
    const body = await expectError(
      await post(
        `/sessions/${created.sessionId}/messages`,
        JSON.stringify({
          content: "x",
          attachments: [{ type: "image", mediaType: "image/svg+xml", data: "AAAA" }],
        }),
      ),
      400,
      "VALIDATION_FAILED",
    );
    expect(body.error.message).toContain("body/attachments/0");
    expect(body.error.message).toContain("image/svg+xml");
    for (const accepted of ["image/png", "image/jpeg", "image/gif", "image/webp"])
      expect(body.error.message).toContain(accepted);
  });

  it("unknown route → 404 JSON, oversized body → 413", async () => {
    await expectError(await fetch(`${server.url}/nope`), 404, "NOT_FOUND");
    const huge = JSON.stringify({ agentProfileRef: "x".repeat(11 * 1024 * 1024) });
    await expectError(await post("/sessions", huge), 413, "PAYLOAD_TOO_LARGE");
  });

  it("still serves after all of that", async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe("ok");
  });

  it("serves an OpenAPI document listing every route", async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const path of [
      "/health",
      "/agent-profiles",
      "/agent-profiles/{id}",
      "/sessions",
      "/sessions/create",
      "/sessions/{id}",
      "/sessions/{id}/messages",
      "/sessions/{id}/message",
      "/sessions/{id}/interrupt",
      "/sessions/{id}/events",
      "/sessions/{id}/files",
      "/sessions/{id}/subagents/{subagentId}",
      "/sessions/{id}/permissions/{requestId}",
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});

describe("API keys", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ apiKeys: ["secret-key-1", "secret-key-2"] });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("rejects a missing or wrong key with 401 and accepts a right one", async () => {
    await expectError(await fetch(`${server.url}/sessions`), 401, "UNAUTHORIZED");
    await expectError(
      await fetch(`${server.url}/sessions`, { headers: { authorization: "Bearer wrong" } }),
      401,
      "UNAUTHORIZED",
    );
    const ok = await fetch(`${server.url}/sessions`, { headers: { authorization: "Bearer secret-key-2" } });
    expect(ok.status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it("checks the key on the socket handshake", async () => {
    const denied = new SocketRecorder(server.url, { token: "wrong" });
    const error = await new Promise<Error & { data?: { code?: string } }>((resolve) =>
      denied.socket.on("connect_error", resolve),
    );
    expect(error.data?.code).toBe("UNAUTHORIZED");
    denied.close();

    const allowed = new SocketRecorder(server.url, { token: "secret-key-1" });
    await new Promise<void>((resolve) => allowed.socket.on("connect", () => resolve()));
    const ack = await allowed.join("00000000-0000-0000-0000-000000000000");
    expect(ack).toEqual({
      ok: false,
      error: expect.objectContaining({ code: "SESSION_NOT_FOUND" }),
    });
    allowed.close();
  });
});
