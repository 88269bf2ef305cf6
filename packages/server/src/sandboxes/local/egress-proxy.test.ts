import { once } from "node:events";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EgressStall, SandboxNetworkPolicy } from "../sandbox-provider.js";
import { createEgressProxy, type EgressProxy } from "./egress-proxy.js";

const KEY = "sk-real-key";

interface Upstream {
  readonly server: Server;
  readonly endpoint: string;
  /** Every request that reached the upstream: its path and the key it carried. */
  readonly seen: Array<{ path: string; key: string | undefined }>;
}

/** A loopback upstream; `handle` answers (by default `ok`). */
async function startUpstream(
  handle?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", key: req.headers["x-api-key"] as string | undefined });
    if (handle) handle(req, res);
    else res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, seen, endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Listeners standing in for a sandbox's: each hands its connections to the proxy for one endpoint. */
const listeners: ReturnType<typeof createNetServer>[] = [];

/** Connects to `endpoint` through `proxy`, the way a process in a sandbox does through its listener. */
async function tunnel(proxy: EgressProxy, endpoint: string): Promise<Socket> {
  const listener = createNetServer((client) => proxy.connect(client, endpoint));
  listeners.push(listener);
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const socket = connect((listener.address() as AddressInfo).port, "127.0.0.1");
  await once(socket, "connect");
  return socket;
}

/** Sends one raw HTTP/1.1 request through a new tunnel and resolves with the status line's code. */
async function statusThrough(proxy: EgressProxy, endpoint: string, target: string): Promise<number> {
  const socket = await tunnel(proxy, endpoint);
  return new Promise<number>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("data", (data: Buffer) => {
      socket.destroy();
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data.toString())?.[1] ?? 0));
    });
    socket.write(`GET ${target} HTTP/1.1\r\nHost: ${endpoint}\r\nx-api-key: placeholder\r\n\r\n`);
  });
}

/** Sends `POST path` through a new tunnel; resolves once the response headers arrive, with the response. */
async function postThrough(proxy: EgressProxy, endpoint: string, path: string): Promise<IncomingMessage> {
  const socket = await tunnel(proxy, endpoint);
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      { createConnection: () => socket, path, method: "POST", headers: { host: endpoint } },
      resolve,
    );
    req.once("error", reject);
    req.end("{}");
  });
}

describe("egress proxy", () => {
  let proxy: EgressProxy | undefined;
  const upstreams: Upstream[] = [];
  const start = async (policy: SandboxNetworkPolicy) => {
    proxy = createEgressProxy(policy);
    return proxy;
  };
  const upstream = async (handle?: (req: IncomingMessage, res: ServerResponse) => void) => {
    const started = await startUpstream(handle);
    upstreams.push(started);
    return started;
  };

  afterEach(() => {
    proxy?.close();
    proxy = undefined;
    for (const listener of listeners.splice(0)) listener.close();
    for (const { server } of upstreams.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  describe("tunnels", () => {
    it("relays the bytes of an allowed endpoint without secrets unchanged, both ways", async () => {
      const up = await upstream();
      const through = await start({ allow: [up.endpoint] });
      // Not a proxy request: a tunnel carries whatever the client sends, here a plain request line.
      expect(await statusThrough(through, up.endpoint, "/any/path")).toBe(200);
      expect(up.seen).toEqual([{ path: "/any/path", key: "placeholder" }]);
    });

    it("closes a connection to an endpoint the policy does not allow; nothing reaches it", async () => {
      const allowed = await upstream();
      const other = await upstream();
      const through = await start({ allow: [allowed.endpoint] });
      const socket = await tunnel(through, other.endpoint);
      socket.on("error", () => undefined);
      socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await once(socket, "close");
      expect(other.seen).toEqual([]);
    });

    it("close() ends every open tunnel", async () => {
      const up = await upstream(() => undefined);
      const through = await start({ allow: [up.endpoint] });
      const socket = await tunnel(through, up.endpoint);
      socket.on("error", () => undefined);
      socket.write("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
      while (up.seen.length === 0) await sleep(10);
      through.close();
      await once(socket, "close");
    });
  });

  describe("paths of an endpoint with secrets", () => {
    const policyFor = (endpoint: string): SandboxNetworkPolicy => ({
      allow: [endpoint],
      secrets: [{ endpoint, header: "x-api-key", value: KEY, paths: ["/v1/messages", "/v1/models"] }],
    });

    it("forwards the API's paths (and below, with a query) with the key set", async () => {
      const up = await upstream();
      const through = await start(policyFor(up.endpoint));
      expect(await statusThrough(through, up.endpoint, "/v1/messages?beta=true")).toBe(200);
      expect(await statusThrough(through, up.endpoint, "/v1/messages/count_tokens")).toBe(200);
      expect(await statusThrough(through, up.endpoint, "/v1/models")).toBe(200);
      expect(up.seen).toEqual([
        { path: "/v1/messages?beta=true", key: KEY },
        { path: "/v1/messages/count_tokens", key: KEY },
        { path: "/v1/models", key: KEY },
      ]);
    });

    it("refuses every other path with 403: the request, and so the key, never reaches the upstream", async () => {
      const up = await upstream();
      const through = await start(policyFor(up.endpoint));
      const others = [
        "/_mock/requests",
        "/",
        "/v1/messagesX",
        "/v1/models-secret",
        "/v1/messages/../../_mock/requests",
        "/v1/messages/%2e%2e/%2e%2e/_mock/requests",
        "/v1/messages/..%2f..%2f_mock/requests",
        "/v1/messages/./x",
        "//v1/messages",
        "/v1//messages",
        "/v1/messages\\..\\_mock",
        `http://${up.endpoint}/_mock/requests`,
        "*",
      ];
      for (const target of others) {
        expect(await statusThrough(through, up.endpoint, target), target).toBe(403);
      }
      expect(up.seen).toEqual([]);
    });

    it("keeps forwarding every path of an endpoint whose secrets name no paths", async () => {
      const up = await upstream();
      const through = await start({
        allow: [up.endpoint],
        secrets: [{ endpoint: up.endpoint, header: "x-api-key", value: KEY }],
      });
      expect(await statusThrough(through, up.endpoint, "/anything")).toBe(200);
      expect(up.seen).toEqual([{ path: "/anything", key: KEY }]);
    });

    it("refuses secret paths that are not plain absolute paths", async () => {
      const endpoint = "127.0.0.1:1";
      for (const path of ["v1/messages", "/v1/../x", "/v1/messages?x=1", "/v1//m", ""]) {
        expect(
          () =>
            createEgressProxy({
              allow: [endpoint],
              secrets: [{ endpoint, header: "x-api-key", value: KEY, paths: [path] }],
            }),
          path,
        ).toThrow(/path/);
      }
    });
  });

  describe("stall watch", () => {
    const stalls: EgressStall[] = [];
    const policyFor = (endpoint: string): SandboxNetworkPolicy => ({
      allow: [endpoint],
      secrets: [{ endpoint, header: "x-api-key", value: KEY }],
      stallWatch: { timeoutMs: 300, onStall: (stall) => stalls.push(stall) },
    });
    const waitForStall = async (withinMs: number) => {
      const started = performance.now();
      while (stalls.length === 0 && performance.now() - started < withinMs) await sleep(20);
    };
    beforeEach(() => {
      stalls.length = 0;
    });

    it("reports a response that stops sending mid-stream, once, after the timeout", async () => {
      const up = await upstream((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("event: ping\ndata: {}\n\n"); // then nothing more
      });
      const through = await start(policyFor(up.endpoint));
      const response = await postThrough(through, up.endpoint, "/v1/messages?beta=true");
      const started = performance.now();
      response.resume();
      await waitForStall(5000);
      expect(stalls).toEqual([
        { endpoint: up.endpoint, method: "POST", path: "/v1/messages", phase: "body", idleMs: 300 },
      ]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      await sleep(700);
      expect(stalls).toHaveLength(1);
    });

    it("reports a response that never starts", async () => {
      const up = await upstream(() => undefined);
      const through = await start(policyFor(up.endpoint));
      void postThrough(through, up.endpoint, "/v1/messages").catch(() => undefined);
      await waitForStall(5000);
      expect(stalls).toMatchObject([{ path: "/v1/messages", phase: "headers" }]);
    });

    it("does not fire while bytes keep coming, nor after the response ended", async () => {
      const up = await upstream((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        let sent = 0;
        const timer = setInterval(() => {
          res.write("data: {}\n\n");
          if (++sent === 8) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
      });
      const through = await start(policyFor(up.endpoint));
      const response = await postThrough(through, up.endpoint, "/v1/messages");
      response.resume();
      await new Promise((resolve) => response.once("end", resolve));
      await sleep(600);
      expect(stalls).toEqual([]);
    });

    it("stops watching an exchange the sandbox side abandoned", async () => {
      const up = await upstream(() => undefined);
      const through = await start(policyFor(up.endpoint));
      const tunnelled = await tunnel(through, up.endpoint);
      tunnelled.write(`POST /v1/messages HTTP/1.1\r\nHost: ${up.endpoint}\r\ncontent-length: 2\r\n\r\n{}`);
      while (up.seen.length === 0) await sleep(10);
      tunnelled.destroy();
      await sleep(600);
      expect(stalls).toEqual([]);
    });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
