import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterError } from "./cluster-error.js";
import { FORWARDED_BY_HEADER, forwardRequest } from "./forward-request.js";

const servers: Server[] = [];

/** An owner node stand-in on loopback; resolves to its base URL. */
async function owner(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const target = (advertiseUrl: string) => ({ nodeId: "owner", advertiseUrl });

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe("forwardRequest", () => {
  it("sends the method, path, query, body and the caller's credentials to the owner, and hands back its answer", async () => {
    let seen: { method?: string; url?: string; headers?: IncomingMessage["headers"]; body?: string } = {};
    const url = await owner(async (request, response) => {
      seen = {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: await text(request),
      };
      response.writeHead(202, { "content-type": "application/json", "x-request-id": "req-1" });
      response.end(JSON.stringify({ turnId: "turn-1" }));
    });
    const answer = await forwardRequest({
      target: target(`${url}/base/`),
      fromNodeId: "node-2",
      method: "POST",
      path: "/sessions/s-1/messages?wait=false",
      headers: {
        authorization: "Bearer key-1",
        "content-type": "application/json",
        connection: "keep-alive, x-secret-hop",
        "x-secret-hop": "must not pass",
        "keep-alive": "timeout=5",
        host: "balancer.example",
      },
      body: Buffer.from(JSON.stringify({ content: "hello" })),
    });
    expect(answer.status).toBe(202);
    expect(answer.headers["x-request-id"]).toBe("req-1");
    expect(JSON.parse(await text(answer.body))).toEqual({ turnId: "turn-1" });
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/base/sessions/s-1/messages?wait=false");
    expect(seen.body).toBe('{"content":"hello"}');
    expect(seen.headers).toMatchObject({
      authorization: "Bearer key-1",
      "content-type": "application/json",
      [FORWARDED_BY_HEADER]: "node-2",
    });
    expect(seen.headers?.["x-secret-hop"]).toBeUndefined();
    expect(seen.headers?.["keep-alive"]).toBeUndefined();
    expect(seen.headers?.host).toBe(new URL(url).host);
  });

  it("passes the owner's error answers through unchanged", async () => {
    const url = await owner((_request, response) => {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { code: "SESSION_NOT_FOUND", message: "no such session" } }));
    });
    const answer = await forwardRequest({
      target: target(url),
      fromNodeId: "n",
      method: "GET",
      path: "/sessions/x",
      headers: {},
    });
    expect(answer.status).toBe(404);
    expect(JSON.parse(await text(answer.body))).toEqual({
      error: { code: "SESSION_NOT_FOUND", message: "no such session" },
    });
  });

  it("streams a request body and a large answer through without holding them whole", async () => {
    const size = 8 * 1024 * 1024;
    let received = 0;
    const url = await owner((request, response) => {
      request.on("data", (chunk: Buffer) => {
        received += chunk.length;
      });
      request.on("end", () => {
        response.writeHead(200, { "content-type": "application/octet-stream" });
        Readable.from(
          (function* () {
            for (let sent = 0; sent < size; sent += 64 * 1024) yield Buffer.alloc(64 * 1024, 1);
          })(),
        ).pipe(response);
      });
    });
    const upload = Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += 64 * 1024) yield Buffer.alloc(64 * 1024, 2);
      })(),
    );
    const answer = await forwardRequest({
      target: target(url),
      fromNodeId: "n",
      method: "PUT",
      path: "/sessions/s/files/big.bin",
      headers: { "content-type": "application/octet-stream" },
      body: upload,
    });
    let downloaded = 0;
    for await (const chunk of answer.body) downloaded += (chunk as Buffer).length;
    expect(downloaded).toBe(size);
    expect(received).toBe(size);
  });

  it("answers NODE_UNAVAILABLE when the owner refuses the connection", async () => {
    const url = await closedPort();
    const error = await forwardRequest({
      target: target(url),
      fromNodeId: "n",
      method: "GET",
      path: "/health",
      headers: {},
    }).catch((caught: unknown) => caught);
    expect(ClusterError.is(error, "NODE_UNAVAILABLE")).toBe(true);
    expect((error as ClusterError).status).toBe(503);
    expect((error as ClusterError).message).toContain("owner");
  });

  it("answers NODE_UNAVAILABLE when the owner drops the connection before answering", async () => {
    const url = await owner((request) => {
      request.socket.destroy();
    });
    await expect(
      forwardRequest({ target: target(url), fromNodeId: "n", method: "GET", path: "/health", headers: {} }),
    ).rejects.toSatisfy((error) => ClusterError.is(error, "NODE_UNAVAILABLE"));
  });

  it("answers NODE_TIMEOUT when the owner does not answer in time, and abandons the request", async () => {
    let ownerSawClose!: () => void;
    const closed = new Promise<void>((resolve) => {
      ownerSawClose = resolve;
    });
    const url = await owner((request) => {
      request.socket.on("close", ownerSawClose);
    });
    const started = Date.now();
    const error = await forwardRequest({
      target: target(url),
      fromNodeId: "n",
      method: "GET",
      path: "/slow",
      headers: {},
      timeoutMs: 300,
    }).catch((caught: unknown) => caught);
    expect(ClusterError.is(error, "NODE_TIMEOUT")).toBe(true);
    expect((error as ClusterError).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2_000);
    await closed;
  });

  it("never forwards a request a node forwarded already", async () => {
    let requests = 0;
    const url = await owner((_request, response) => {
      requests += 1;
      response.end();
    });
    await expect(
      forwardRequest({
        target: target(url),
        fromNodeId: "n",
        method: "GET",
        path: "/sessions/s",
        headers: { [FORWARDED_BY_HEADER]: "node-1" },
      }),
    ).rejects.toSatisfy((error) => ClusterError.is(error, "NODE_UNAVAILABLE"));
    expect(requests).toBe(0);
  });

  it("stops when the caller gives up", async () => {
    const url = await owner(() => {});
    const controller = new AbortController();
    const forwarded = forwardRequest({
      target: target(url),
      fromNodeId: "n",
      method: "GET",
      path: "/slow",
      headers: {},
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error("the client went away")), 50);
    await expect(forwarded).rejects.toThrow("the client went away");
  });

  it("sends no Content-Length of the client's with a request it forwards without a body, so the owner's connection stays in step", async () => {
    // A hostile client's GET announcing a body it never sends: were the length passed on with no body,
    // the owner would take the next request on the same kept-alive connection for that body.
    const seen: { url?: string; length?: string }[] = [];
    const url = await owner((request, response) => {
      seen.push({ url: request.url, length: request.headers["content-length"] });
      request.resume();
      response.end("ok");
    });
    const get = (path: string, headers: Record<string, string>) =>
      forwardRequest({
        target: target(url),
        fromNodeId: "node-2",
        method: "GET",
        path,
        headers,
        timeoutMs: 3_000,
      });
    const first = await get("/sessions/s-1", { "content-length": "40" });
    expect(await text(first.body)).toBe("ok");
    const second = await get("/sessions/s-2", {});
    expect(await text(second.body)).toBe("ok");
    expect(seen).toEqual([{ url: "/sessions/s-1" }, { url: "/sessions/s-2" }]);
  });

  it("refuses a path that could leave the owner's origin", async () => {
    const url = await owner((_request, response) => response.end());
    for (const path of ["//evil.example/x", "http://evil.example/", "relative", "/a\r\nx: y"]) {
      await expect(
        forwardRequest({ target: target(url), fromNodeId: "n", method: "GET", path, headers: {} }),
      ).rejects.toThrow();
    }
  });
});
