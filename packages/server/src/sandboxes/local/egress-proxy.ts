import { chmod, rm } from "node:fs/promises";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import type { SandboxNetworkPolicy, SandboxSecret } from "../sandbox-provider.js";

/** How long the proxy waits for an allowed endpoint to accept a connection. */
const CONNECT_TIMEOUT_MS = 5000;

/** A running egress proxy of one sandbox. */
export interface EgressProxy {
  /** Stops listening, destroys every open tunnel and removes the socket's folder. Idempotent. */
  close(): Promise<void>;
}

/** `host:port`, lower-cased, brackets removed from IPv6 hosts. */
export function normalizeEndpoint(endpoint: string): string {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(endpoint.trim());
  if (!match) throw new Error(`invalid endpoint ${JSON.stringify(endpoint)} (expected host:port)`);
  return `${match[1]!.toLowerCase()}:${Number(match[2])}`;
}

function splitEndpoint(endpoint: string): { host: string; port: number } {
  const index = endpoint.lastIndexOf(":");
  return { host: endpoint.slice(0, index), port: Number(endpoint.slice(index + 1)) };
}

/**
 * The host side of a sandbox's network policy: an HTTP proxy on a Unix
 * socket (bind-mounted into the sandbox) that only answers `CONNECT` to the
 * endpoints of `policy.allow`; every other request gets 403 (405 for
 * anything but `CONNECT`). A tunnel to an endpoint that has secrets is not a
 * byte pipe: the proxy reads the plain-HTTP requests in it and sets each
 * secret's header to the real value (over whatever placeholder the sandbox
 * sent) before forwarding them, over TLS when `secret.tls`. The socket is
 * created mode 0666 so that the sandbox's uid can connect.
 */
export async function startEgressProxy(
  socketPath: string,
  policy: SandboxNetworkPolicy,
): Promise<EgressProxy> {
  const allowed = new Set(policy.allow.map(normalizeEndpoint));
  const secrets = new Map<string, SandboxSecret[]>();
  for (const secret of policy.secrets ?? []) {
    const endpoint = normalizeEndpoint(secret.endpoint);
    secrets.set(endpoint, [...(secrets.get(endpoint) ?? []), secret]);
  }
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const injectors = new Map<string, Server>();
  const injectorFor = (endpoint: string, endpointSecrets: SandboxSecret[]) => {
    let server = injectors.get(endpoint);
    if (!server) {
      server = createServer((req, res) => forwardWithSecrets(endpoint, endpointSecrets, req, res));
      injectors.set(endpoint, server);
    }
    return server;
  };

  const proxy = createServer((_req, res) => {
    res.writeHead(405, { "content-type": "text/plain" }).end("Only CONNECT is supported\n");
  });
  proxy.on("connection", track);
  proxy.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) => {
    let endpoint: string;
    try {
      endpoint = normalizeEndpoint(req.url ?? "");
    } catch {
      client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    if (!allowed.has(endpoint)) {
      client.end(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nEgress denied by the sandbox network policy\n",
      );
      return;
    }
    const endpointSecrets = secrets.get(endpoint);
    if (endpointSecrets) {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) client.unshift(head);
      injectorFor(endpoint, endpointSecrets).emit("connection", client);
      return;
    }
    const { host, port } = splitEndpoint(endpoint);
    const upstream = connect({ host, port, timeout: CONNECT_TIMEOUT_MS, noDelay: true });
    track(upstream);
    upstream.once("timeout", () => upstream.destroy());
    upstream.once("connect", () => {
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
    upstream.once("close", () => client.destroy());
    client.once("error", () => upstream.destroy());
    client.once("close", () => upstream.destroy());
  });

  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    proxy.once("error", reject);
    proxy.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o666);

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          proxy.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
        for (const server of injectors.values()) server.close();
        await rm(dirname(socketPath), { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

/** Forwards one plain-HTTP request to `endpoint` with the secrets' headers set; 502 when it fails. */
function forwardWithSecrets(
  endpoint: string,
  secrets: readonly SandboxSecret[],
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const { host, port } = splitEndpoint(endpoint);
  const tls = secrets.some((secret) => secret.tls);
  // The agent addressed the endpoint at its inside port; the upstream sees its own name.
  const headers: OutgoingHttpHeaders = {
    ...req.headers,
    host: tls && port === 443 ? host : `${host}:${port}`,
  };
  for (const secret of secrets) headers[secret.header.toLowerCase()] = secret.value;
  const upstream = (tls ? httpsRequest : httpRequest)(
    { host, port, method: req.method, path: req.url, headers },
    (response) => {
      res.writeHead(response.statusCode ?? 502, response.statusMessage, response.headers);
      response.pipe(res);
    },
  );
  upstream.once("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end();
  });
  res.once("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
