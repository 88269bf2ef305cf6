import { connect, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** A raw TCP client that records what the server answers and when it closes the connection. */
interface RawClient {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Whether the server closed (or reset) the connection. */
  closed(): boolean;
  /** Writes `text` one byte every `everyMs`, stopping early when the connection closes; resolves with the bytes written. */
  drip(text: string, everyMs: number): Promise<number>;
}

async function rawClient(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let received = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
  });
  return {
    socket,
    received: () => received,
    closed: () => closed,
    async drip(text, everyMs) {
      let written = 0;
      for (const byte of text) {
        if (closed || socket.destroyed) break;
        socket.write(byte);
        written++;
        await delay(everyMs);
      }
      return written;
    },
  };
}

/** Waits until `client`'s connection is closed, at most `ms` (the slowest drip below). */
async function closedWithin(client: RawClient, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!client.closed() && Date.now() < deadline) await delay(50);
  return client.closed();
}

/** Issue 25: slow clients cannot hold connections (real server, raw sockets). */
describe("HTTP server timeouts", () => {
  const TIMEOUTS = { headersMs: 1_000, requestMs: 2_000, keepAliveMs: 1_000 };
  /** Longer than any timeout above plus Node's checking interval: a client dripping this long must have been cut off. */
  const DRIP_BYTES = 80;
  const DRIP_EVERY_MS = 100;
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ server: { httpTimeouts: TIMEOUTS } });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("cuts off a client that sends its headers byte by byte (slowloris) with 408 REQUEST_TIMEOUT", async () => {
    const client = await rawClient(server.url);
    client.socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    const written = await client.drip(`X-Slow: ${"a".repeat(DRIP_BYTES)}\r\n\r\n`, DRIP_EVERY_MS);
    expect(await closedWithin(client, 5_000)).toBe(true);
    expect(written).toBeLessThan(DRIP_BYTES);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.received()).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it("cuts off a client that connects and sends nothing", async () => {
    const client = await rawClient(server.url);
    expect(await closedWithin(client, DRIP_BYTES * DRIP_EVERY_MS)).toBe(true);
  });

  it("cuts off a body sent too slowly with 408 REQUEST_TIMEOUT", async () => {
    const body = JSON.stringify({ agentProfileRef: "test", pad: "x".repeat(DRIP_BYTES) });
    const client = await rawClient(server.url);
    client.socket.write(
      `POST /sessions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    const written = await client.drip(body, DRIP_EVERY_MS);
    expect(await closedWithin(client, 5_000)).toBe(true);
    expect(written).toBeLessThan(body.length);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    // Nothing was created from the partial body.
    const list = (await (await fetch(`${server.url}/sessions`)).json()) as { sessions: unknown[] };
    expect(list.sessions).toEqual([]);
  });

  it("closes an idle keep-alive connection after the keep-alive timeout", async () => {
    const client = await rawClient(server.url);
    client.socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
    expect(await closedWithin(client, DRIP_BYTES * DRIP_EVERY_MS)).toBe(true);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("does not bound responses: an event stream outlives the request timeout", async () => {
    const created = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    const { sessionId } = (await created.json()) as { sessionId: string };
    const client = await rawClient(server.url);
    client.socket.write(
      `GET /sessions/${sessionId}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`,
    );
    await delay(TIMEOUTS.requestMs + 1_500);
    expect(client.closed()).toBe(false);
    // An event still arrives on the stream after the request timeout.
    const patched = await fetch(`${server.url}/sessions/${sessionId}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionOptions: { model: "claude-later" } }),
    });
    expect(patched.status).toBe(200);
    const deadline = Date.now() + 5_000;
    while (!client.received().includes("claude-later") && Date.now() < deadline) await delay(50);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toContain("claude-later");
    client.socket.destroy();
  });

  it("refuses a headers timeout longer than the request timeout", async () => {
    await expect(
      startTestServer({ server: { httpTimeouts: { headersMs: 5_000, requestMs: 1_000 } } }),
    ).rejects.toThrow(/must not be longer than the request timeout/);
  });
});

/** The defaults are the documented ones. */
describe("HTTP server timeouts by default", () => {
  it("are 20 s for headers, 300 s for a request and 72 s for an idle keep-alive connection", async () => {
    const server = await startTestServer();
    try {
      const http = server.server.app.server;
      expect([http.headersTimeout, http.requestTimeout, http.keepAliveTimeout]).toEqual([
        20_000, 300_000, 72_000,
      ]);
    } finally {
      await server.dispose();
    }
  });
});
