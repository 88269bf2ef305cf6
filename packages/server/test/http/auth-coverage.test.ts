import { request as httpRequest } from "node:http";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/test-server.js";

const KEY = "auth-coverage-key";
const PUBLIC_OPERATIONS = new Set(["GET /health", "GET /ready"]);

interface OpenApiDocument {
  readonly paths: Record<string, Record<string, unknown>>;
}

/** A raw HTTP request: the path goes on the wire as given (no client-side `..` normalization). */
function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** RELIABILITY case 11: with keys configured, every API operation and the socket handshake need one. */
describe("authentication on every route and on the socket handshake", () => {
  let server: TestServer;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    server = await startTestServer({ apiKeys: [KEY], studio: true });
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    doc = (await response.json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        path,
        url: path
          .replace(/\{\*\}/g, "some/file.txt")
          .replace(/\{[^}]+\}/g, "00000000-0000-0000-0000-000000000000"),
      })),
    );

  it("documents the API (the list this suite checks is not empty)", () => {
    expect(operations().length).toBeGreaterThanOrEqual(18);
    expect(Object.keys(doc.paths)).toContain("/sessions/{id}/workspace");
  });

  it("answers 401 UNAUTHORIZED without a key, with a wrong key and with a malformed header, on every operation", async () => {
    for (const op of operations()) {
      if (PUBLIC_OPERATIONS.has(`${op.method} ${op.path}`)) continue;
      for (const authorization of [
        undefined,
        "Bearer wrong-key",
        `Basic ${KEY}`,
        `Bearer ${KEY}x`,
        "Bearer",
      ]) {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (authorization) headers.authorization = authorization;
        const hasBody = op.method === "POST" || op.method === "PUT";
        const response = await fetch(`${server.url}${op.url}`, {
          method: op.method,
          headers,
          ...(hasBody ? { body: "{}" } : {}),
        });
        expect(response.status, `${op.method} ${op.path} with ${authorization}`).toBe(401);
        const body = (await response.json()) as { error: { code: string } };
        expect(body.error.code).toBe("UNAUTHORIZED");
      }
      if (op.method === "GET") {
        const head = await fetch(`${server.url}${op.url}`, { method: "HEAD" });
        expect(head.status, `HEAD ${op.path}`).toBe(401);
      }
    }
  });

  it("lets the right key through on every operation", async () => {
    for (const op of operations()) {
      const hasBody = op.method === "POST" || op.method === "PUT";
      const response = await fetch(`${server.url}${op.url}`, {
        method: op.method,
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        ...(hasBody ? { body: "{}" } : {}),
      });
      expect(response.status, `${op.method} ${op.path}`).not.toBe(401);
    }
  });

  it("keeps /health, /openapi.json and the Studio's files public, and nothing else", async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/openapi.json`)).status).toBe(200);
    const home = await fetch(`${server.url}/`);
    expect(home.status).toBe(200);
    const html = await home.text();
    // The build's asset URLs are relative to the page's <base href="/">.
    const asset = /src="\.?(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    expect((await fetch(`${server.url}${asset}`)).status).toBe(200);
    expect((await fetch(`${server.url}/s/any`, { headers: { accept: "text/html" } })).status).toBe(200);
  });

  it("does not open the API through a public prefix, dot segments, encodings or a query", async () => {
    const attempts = [
      "/assets/../sessions",
      "/assets/%2e%2e/sessions",
      "/assets/..%2fsessions",
      "/s/../sessions",
      "/s/%2e%2e/sessions",
      "/health/../sessions",
      "/openapi.json/../sessions",
      "//sessions",
      "/sessions?/health",
      "/sessions#/health",
      "/./sessions",
      "/sessions/",
      "/%73essions",
      "/SESSIONS",
    ];
    for (const path of attempts) {
      const response = await rawRequest(server.url, "GET", path, { accept: "application/json" });
      expect([400, 401, 404], path).toContain(response.status);
      expect(response.body, path).not.toContain('"sessions":');
    }
    // The one that matters most: creating a session without a key through any of those.
    for (const path of ["/assets/../sessions", "/s/../sessions", "/health/../sessions"]) {
      const response = await rawRequest(server.url, "POST", path, { "content-type": "application/json" });
      expect([400, 401, 404], path).toContain(response.status);
    }
    const listed = await fetch(`${server.url}/sessions`, { headers: { authorization: `Bearer ${KEY}` } });
    const { sessions } = (await listed.json()) as { sessions: { sessionId: string }[] };
    // Only the sessions the keyed requests above could have created (POST /sessions with `{}` is invalid).
    expect(sessions).toEqual([]);
  });

  it("refuses socket handshakes without the key, in auth, header or query, on both transports", async () => {
    const refused = async (options: Parameters<typeof io>[1]) => {
      const socket = io(server.url, { reconnection: false, ...options });
      const outcome = await new Promise<string>((resolve) => {
        socket.on("connect", () => resolve("connected"));
        socket.on("connect_error", (error: Error & { data?: { code?: string } }) =>
          resolve(error.data?.code ?? error.message),
        );
      });
      socket.close();
      return outcome;
    };
    for (const transports of [["websocket"], ["polling"]]) {
      expect(await refused({ transports })).toBe("UNAUTHORIZED");
      expect(await refused({ transports, auth: { token: "wrong" } })).toBe("UNAUTHORIZED");
      expect(await refused({ transports, auth: { token: 42 } })).toBe("UNAUTHORIZED");
      expect(await refused({ transports, query: { token: KEY } })).toBe("UNAUTHORIZED");
      expect(await refused({ transports, auth: { token: KEY } })).toBe("connected");
    }
    expect(await refused({ transports: ["polling"], extraHeaders: { authorization: `Bearer ${KEY}` } })).toBe(
      "connected",
    );
    expect(await refused({ transports: ["polling"], extraHeaders: { authorization: "Bearer nope" } })).toBe(
      "UNAUTHORIZED",
    );
  });
});
