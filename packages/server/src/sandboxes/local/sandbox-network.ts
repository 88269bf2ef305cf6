import { isIP } from "node:net";
import { RuntimeError } from "../../errors.js";
import { checkedEndpoint, checkPolicySecrets } from "../network-policy-checks.js";
import type { SandboxNetworkPolicy } from "../sandbox-provider.js";

/** Where, inside a sandbox's network namespace, one allowed endpoint is served. */
export interface SandboxRoute {
  /** IPv4 loopback address inside. */
  readonly address: string;
  /** The endpoint's own port. */
  readonly port: number;
  /** The allowed endpoint, `host:port` as `normalizeEndpoint` writes it. */
  readonly endpoint: string;
}

/** How a sandbox with a network policy reaches its allowed endpoints. */
export interface SandboxNetworkPlan {
  /** `/etc/hosts` inside: localhost, and each allowed host name on its own loopback address. */
  readonly hostsFile: string;
  /** One listener per allowed endpoint. */
  readonly routes: readonly SandboxRoute[];
}

/**
 * Plans the in-sandbox side of `policy`: an endpoint whose host is a
 * loopback IP is served at that same address; an endpoint with a host name
 * at an address in 127.0.100.0/24 that `/etc/hosts` maps the name to; any
 * other IP literal is refused (nothing inside could reach it). Every
 * endpoint keeps its port. Throws `VALIDATION_FAILED` for invalid endpoints
 * (port 0 or above 65535 included) and secret paths.
 */
export function planSandboxNetwork(policy: SandboxNetworkPolicy): SandboxNetworkPlan {
  const names = new Map<string, string>();
  const routes: SandboxRoute[] = [];
  for (const raw of policy.allow) {
    const { endpoint, host, port } = checkedEndpoint(raw);
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
    // Two spellings of one place inside (`localhost:80`, `127.0.0.1:80`) share its listener.
    if (!routes.some((route) => route.address === listen && route.port === port)) {
      routes.push({ address: listen, port, endpoint });
    }
  }
  if (names.size > 250) throw new RuntimeError("VALIDATION_FAILED", "network.allow: too many host names");
  checkPolicySecrets(policy);
  const hosts = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost",
    ...[...names].map(([name, ip]) => `${ip}\t${name}`),
  ];
  return { hostsFile: `${hosts.join("\n")}\n`, routes };
}
