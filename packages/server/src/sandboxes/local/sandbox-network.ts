import { isIP } from "node:net";
import { posix } from "node:path";
import { RuntimeError } from "../../errors.js";
import { insidePort, type SandboxNetworkPolicy } from "../sandbox-provider.js";
import { NETWORK_DIR_INSIDE } from "./bwrap-args.js";
import { normalizeEndpoint } from "./egress-proxy.js";

/** File name of the egress proxy's socket, in the sandbox's runtime `net/` folder and in `NETWORK_DIR_INSIDE`. */
export const PROXY_SOCKET_NAME = "egress.sock";
/** Unix socket paths are limited to 108 bytes, NUL included. */
const MAX_SOCKET_PATH = 107;

/** How a sandbox with a network policy reaches its allowed endpoints. */
export interface SandboxNetworkPlan {
  /** `/etc/hosts` inside: localhost, and each allowed host name on its own loopback address. */
  readonly hostsFile: string;
  /** Prefix of every command: the runner's `net-bridge` listening on each endpoint's address inside. */
  readonly commandPrefix: readonly string[];
}

/**
 * Plans the in-sandbox side of `policy`: an endpoint whose host is a
 * loopback IP listens at that same address; an endpoint with a host name
 * gets an address in 127.0.100.0/24 that `/etc/hosts` maps the name to; any
 * other IP literal is refused (nothing inside could reach it). Ports below
 * 1024 are served at `insidePort(port)`. The
 * `net-bridge` then tunnels each connection through the proxy. Throws
 * `VALIDATION_FAILED` for invalid endpoints.
 */
export function planSandboxNetwork(
  policy: SandboxNetworkPolicy,
  nodePath: string,
  bridgePath: string,
): SandboxNetworkPlan {
  const names = new Map<string, string>();
  const routes: string[] = [];
  for (const raw of policy.allow) {
    let endpoint: string;
    try {
      endpoint = normalizeEndpoint(raw);
    } catch (error) {
      throw new RuntimeError("VALIDATION_FAILED", (error as Error).message);
    }
    const separator = endpoint.lastIndexOf(":");
    const host = endpoint.slice(0, separator);
    const port = endpoint.slice(separator + 1);
    let listen: string;
    if (host === "localhost") {
      listen = "127.0.0.1";
    } else if (isIP(host) === 4 && host.startsWith("127.")) {
      listen = host;
    } else if (isIP(host) !== 0) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `network.allow: ${raw} is an IP address that is not IPv4 loopback; allow it by host name`,
      );
    } else {
      if (!names.has(host)) names.set(host, `127.0.100.${names.size + 1}`);
      listen = names.get(host)!;
    }
    routes.push(`${listen}:${insidePort(Number(port))}=${endpoint}`);
  }
  if (names.size > 250) throw new RuntimeError("VALIDATION_FAILED", "network.allow: too many host names");
  for (const secret of policy.secrets ?? []) {
    const endpoint = normalizeEndpoint(secret.endpoint);
    if (!policy.allow.some((allowed) => normalizeEndpoint(allowed) === endpoint)) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `network.secrets: ${secret.endpoint} is not in network.allow`,
      );
    }
  }
  const hosts = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost",
    ...[...names].map(([name, ip]) => `${ip}\t${name}`),
  ];
  return {
    hostsFile: `${hosts.join("\n")}\n`,
    commandPrefix: [nodePath, bridgePath, posix.join(NETWORK_DIR_INSIDE, PROXY_SOCKET_NAME), ...routes, "--"],
  };
}

/** Throws `SANDBOX_FAILED` when the proxy socket's host path is too long for a Unix socket. */
export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new RuntimeError(
      "SANDBOX_FAILED",
      `The egress proxy socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter rootDir`,
    );
  }
}
