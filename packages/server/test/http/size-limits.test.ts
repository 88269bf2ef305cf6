import { request as httpRequest } from "node:http";
import { MAX_MESSAGE_LENGTH } from "@agent-runtime/protocol";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const BODY_LIMIT = 10_485_760;
const CHUNK = Buffer.alloc(64 * 1024, "a");

interface EarlyAnswer {
  readonly status: number;
  readonly body: string;
  /** Body bytes written before the answer arrived. */
  readonly sentBeforeAnswer: number;
}

/**
 * Streams up to `total` bytes of body, slowly enough for the server to answer
 * mid-way, and stops writing as soon as an answer arrives (or the server
 * closes the connection).
 */
function streamBody(url: string, path: string, total: number, declareLength: boolean): Promise<EarlyAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    let sentBeforeAnswer = 0;
    const headers: Record<string, string | number> = { "content-type": "application/json" };
    if (declareLength) headers["content-length"] = total;
    const req = httpRequest({ hostname, port, method: "POST", path, headers }, (res) => {
      answered = true;
      sentBeforeAnswer = sent;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), sentBeforeAnswer });
      });
    });
    req.on("error", (error) => (answered ? undefined : reject(error)));
    const pump = () => {
      while (!answered && sent < total) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) {
          req.once("drain", () => setTimeout(pump, 1));
          return;
        }
      }
      if (!answered && sent >= total) req.end();
    };
    req.write('{"content":"');
    pump();
  });
}

/** RELIABILITY case 15: size limits on bodies, socket frames, messages and files. */
describe("size limits", () => {
  let server: TestServer;
  let sessionId: string;

  beforeAll(async () => {
    server = await startTestServer();
    sessionId = await restClient(server.url).createSession();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers 413 to a declared oversized body before reading it", async () => {
    const answer = await streamBody(server.url, `/sessions/${sessionId}/messages`, 200 * 1024 * 1024, true);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(answer.sentBeforeAnswer).toBeLessThan(BODY_LIMIT);
  });

  it("answers 413 to an undeclared (chunked) oversized body once it passes the limit, not at its end", async () => {
    const answer = await streamBody(server.url, `/sessions/${sessionId}/messages`, 200 * 1024 * 1024, false);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(answer.sentBeforeAnswer).toBeLessThan(3 * BODY_LIMIT);
  });

  it("answers 400 with a code to an over-long message and an oversized file, and keeps the session", async () => {
    const message = await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "x".repeat(MAX_MESSAGE_LENGTH + 1) }),
    });
    expect(message.status).toBe(400);
    expect(((await message.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");

    const file = await fetch(`${server.url}/sessions/${sessionId}/files/big.txt`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "x".repeat(BODY_LIMIT + 1) }),
    });
    expect(file.status).toBe(413);
    expect(((await file.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    const session = await fetch(`${server.url}/sessions/${sessionId}`);
    expect(session.status).toBe(200);
    expect(((await session.json()) as { files: unknown[] }).files).toEqual([]);
  });

  it("closes a socket that sends an oversized frame, and keeps serving others", async () => {
    for (const transport of ["websocket", "polling"]) {
      const big = io(server.url, { transports: [transport], reconnection: false });
      await new Promise((resolve) => big.once("connect", resolve));
      const reason = new Promise<string>((resolve) => big.once("disconnect", resolve));
      big.emit("session:join", { sessionId: "x".repeat(2 * 1024 * 1024) });
      expect(await reason, transport).toMatch(/transport (close|error)/);
      big.close();
    }

    const fine = io(server.url, { transports: ["websocket"], reconnection: false });
    await new Promise((resolve) => fine.once("connect", resolve));
    const ack = (await fine.timeout(10_000).emitWithAck("session:join", { sessionId })) as { ok: boolean };
    expect(ack.ok).toBe(true);
    fine.close();
  });
});
