import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import type { SandboxNetworkPolicy, SandboxSecret } from "../sandbox-provider.js";
import { ResponseStallWatch } from "./response-stall-watch.js";
import { isSecretPath, secretsCovering } from "./secret-paths.js";
import { SharedLookups } from "./shared-lookups.js";

/** How the proxy finds an endpoint's address: resolves `hostname` to one address of `family` (0: either). */
export type EgressResolve = (
  hostname: string,
  options: { family: number },
) => Promise<{ address: string; family: number }>;

/** How long the proxy waits for an allowed endpoint to accept a connection. */
const CONNECT_TIMEOUT_MS = 5000;

/** The egress proxy of one sandbox: where its connections to allowed endpoints go. */
export interface EgressProxy {
  /**
   * Takes over `client`, a connection a process in the sandbox opened to
   * `endpoint` (`host:port`): destroys it at once when the policy does not
   * allow the endpoint, else relays it (see `createEgressProxy`). The client
   * is destroyed when the endpoint cannot be reached, and either side's
   * close closes the other.
   */
  connect(client: Socket, endpoint: string): void;
  /** Destroys every open connection; later `connect` calls destroy their client. Idempotent. */
  close(): void;
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
 * The host side of a sandbox's network policy, in the server's process: it
 * relays the connections the sandbox opens to the endpoints of
 * `policy.allow` (and refuses any other). A connection to an endpoint
 * without secrets is a byte tunnel to it (TLS, if any, stays end to end). A
 * connection to an endpoint that has secrets is not: the proxy reads the
 * plain-HTTP requests in it, answers 403 to those on a path no secret covers
 * (`secret.paths`), and sets each covering secret's header to the real value
 * (over whatever placeholder the sandbox sent) before forwarding them, over
 * TLS when `secret.tls`, under `policy.stallWatch`. Throws for an invalid
 * endpoint or a secret path that is not a plain absolute path. `resolve`
 * replaces the system's name lookup for every upstream connection (a proxy
 * inside a sandbox whose `/etc/hosts` points the endpoints' names at
 * itself).
 */
export function createEgressProxy(policy: SandboxNetworkPolicy, resolve?: EgressResolve): EgressProxy {
  const lookups = new SharedLookups(resolve);
  const allowed = new Set(policy.allow.map(normalizeEndpoint));
  const secrets = new Map<string, SandboxSecret[]>();
  for (const secret of policy.secrets ?? []) {
    const invalid = secret.paths?.find((path) => !isSecretPath(path));
    if (invalid !== undefined) {
      throw new Error(`secret path ${JSON.stringify(invalid)} is not a plain absolute path`);
    }
    const endpoint = normalizeEndpoint(secret.endpoint);
    secrets.set(endpoint, [...(secrets.get(endpoint) ?? []), secret]);
  }
  const sockets = new Set<Socket>();
  let closed = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const injectors = new Map<string, Server>();
  const injectorFor = (endpoint: string, endpointSecrets: SandboxSecret[]) => {
    let server = injectors.get(endpoint);
    if (!server) {
      server = createServer((req, res) =>
        forwardWithSecrets(
          endpoint,
          endpointSecrets,
          policy.stallWatch,
          req,
          res,
          resolve ? lookups.lookup : undefined,
        ),
      );
      injectors.set(endpoint, server);
    }
    return server;
  };

  return {
    connect(client, endpoint) {
      const normalized = normalizeEndpoint(endpoint);
      if (closed || !allowed.has(normalized)) {
        client.destroy();
        return;
      }
      track(client);
      client.setNoDelay(true);
      const endpointSecrets = secrets.get(normalized);
      if (endpointSecrets) {
        injectorFor(normalized, endpointSecrets).emit("connection", client);
        return;
      }
      const { host, port } = splitEndpoint(normalized);
      // One name lookup per host at a time, its answer reused for a while: a sandbox opening connections in a
      // tight loop must not fill the thread pool the server's file I/O shares with lookups.
      const upstream = connect({
        host,
        port,
        timeout: CONNECT_TIMEOUT_MS,
        noDelay: true,
        lookup: lookups.lookup,
      });
      track(upstream);
      upstream.once("timeout", () => upstream.destroy());
      upstream.once("connect", () => upstream.setTimeout(0));
      // Bytes the client sends before the upstream is connected wait in the upstream's
      // buffer; `pipe` stops reading the client while that buffer is full.
      client.pipe(upstream);
      upstream.pipe(client);
      upstream.once("error", () => client.destroy());
      upstream.once("close", () => client.destroy());
      client.once("error", () => upstream.destroy());
      client.once("close", () => upstream.destroy());
    },
    close() {
      closed = true;
      for (const socket of sockets) socket.destroy();
      for (const server of injectors.values()) server.close();
    },
  };
}

/**
 * Forwards one plain-HTTP request to `endpoint` with the headers of the
 * secrets covering its path set, watched by `stallWatch`; 403 when none
 * covers it, 502 when forwarding fails.
 */
function forwardWithSecrets(
  endpoint: string,
  endpointSecrets: readonly SandboxSecret[],
  stallWatch: SandboxNetworkPolicy["stallWatch"],
  req: IncomingMessage,
  res: ServerResponse,
  lookup?: SharedLookups["lookup"],
): void {
  const target = req.url ?? "";
  const secrets = secretsCovering(endpointSecrets, req.method ?? "GET", target);
  if (secrets.length === 0) {
    res
      .writeHead(403, { "content-type": "text/plain", connection: "close" })
      .end("Path not allowed by the sandbox network policy\n");
    return;
  }
  const { host, port } = splitEndpoint(endpoint);
  const tls = endpointSecrets.some((secret) => secret.tls);
  // The upstream sees its own name, without the port when it is TLS's default.
  const headers: OutgoingHttpHeaders = {
    ...req.headers,
    host: tls && port === 443 ? host : `${host}:${port}`,
  };
  for (const secret of secrets) headers[secret.header.toLowerCase()] = secret.value;
  const method = req.method ?? "GET";
  const watch =
    stallWatch &&
    new ResponseStallWatch(stallWatch.timeoutMs, (phase) =>
      stallWatch.onStall({
        endpoint,
        method,
        path: target.split("?", 1)[0] ?? "",
        phase,
        idleMs: stallWatch.timeoutMs,
      }),
    );
  const upstream = (tls ? httpsRequest : httpRequest)(
    { host, port, method, path: target, headers, ...(lookup ? { lookup } : {}) },
    (response) => {
      watch?.received();
      res.writeHead(response.statusCode ?? 502, response.statusMessage, response.headers);
      if (watch) {
        response.on("data", () => watch.received());
        response.once("end", () => watch.stop());
      }
      response.pipe(res);
    },
  );
  upstream.once("finish", () => watch?.start());
  upstream.once("close", () => watch?.stop());
  upstream.once("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end();
  });
  res.once("close", () => {
    watch?.stop();
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}
