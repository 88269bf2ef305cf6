import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import { RuntimeError } from "../../errors.js";
import { checkedEndpoint, checkPolicySecrets } from "../network-policy-checks.js";
import type { SandboxNetworkPolicy } from "../sandbox-provider.js";
import type { KeyProxyConfig } from "./key-proxy-main.js";
import type { ResolvedModalSandboxOptions } from "./modal-sandbox-options.js";

/** Modal's egress parameters of one sandbox. */
export interface ModalEgressParams {
  readonly blockNetwork?: true;
  readonly outboundDomainAllowlist?: string[];
  readonly outboundCidrAllowlist?: string[];
}

/** How a sandbox's egress is set up on Modal: its create parameters, and the key proxy to start in it (if any). */
export interface ModalEgressPlan {
  readonly params: ModalEgressParams;
  /** Undefined when the policy carries no secret. */
  readonly keyProxy?: KeyProxyConfig;
}

/**
 * Maps a `SandboxSpec.network` (or none) onto Modal. Without a policy, the
 * provider's own `network` option applies as it is. With one, the sandbox
 * may reach exactly the policy's hosts: host names become Modal's domain
 * allow-list, IP addresses its CIDR allow-list (`/32`, `/128`), and an empty
 * policy blocks the network. Modal's lists have no ports: every port of an
 * allowed host is reachable. Each host carrying a secret (the model
 * endpoint) is served by the key proxy inside the sandbox: its name points
 * at a loopback address of the proxy in `/etc/hosts`, with one listener per
 * allowed port of that host, so the agent's plain-HTTP requests get the key
 * on the way out. Throws `SANDBOX_FAILED`, before any call to Modal, for
 * what cannot be honoured: a loopback host (on Modal it would be the
 * sandbox itself), a secret on a host given as an IP address (nothing
 * inside could redirect it to the proxy), a host the provider's own
 * `network` option does not admit; `VALIDATION_FAILED` for invalid
 * endpoints and secret paths.
 */
export function planModalEgress(
  policy: SandboxNetworkPolicy | undefined,
  options: ResolvedModalSandboxOptions["network"],
): ModalEgressPlan {
  if (!policy) {
    return {
      params: {
        ...(options.blockAll ? { blockNetwork: true } : {}),
        ...(options.allowCidrs ? { outboundCidrAllowlist: [...options.allowCidrs] } : {}),
        ...(options.allowDomains ? { outboundDomainAllowlist: [...options.allowDomains] } : {}),
      },
    };
  }
  const endpoints = policy.allow.map(checkedEndpoint);
  checkPolicySecrets(policy);
  const secrets = policy.secrets ?? [];
  const domains = new Set<string>();
  const cidrs = new Set<string>();
  for (const { host } of endpoints) {
    if (host === "localhost" || isLoopback(host)) {
      throw refusal(
        `${host} is a loopback address, which on Modal is the sandbox itself; give the endpoint (e.g. the model's base URL) an address reachable from Modal's machines`,
      );
    }
    const family = isIP(host);
    if (family === 0) {
      if (
        options.blockAll ||
        (options.allowDomains && !options.allowDomains.some((d) => domainCovers(d, host)))
      ) {
        throw refusal(`the provider's network option does not admit ${host}, which the session needs`);
      }
      domains.add(host);
    } else {
      if (options.blockAll || (options.allowCidrs && !options.allowCidrs.some((c) => cidrCovers(c, host)))) {
        throw refusal(`the provider's network option does not admit ${host}, which the session needs`);
      }
      cidrs.add(`${host}/${family === 4 ? 32 : 128}`);
    }
  }
  const params: ModalEgressParams =
    domains.size + cidrs.size === 0
      ? { blockNetwork: true }
      : {
          ...(cidrs.size > 0 ? { outboundCidrAllowlist: [...cidrs] } : {}),
          ...(domains.size > 0 ? { outboundDomainAllowlist: [...domains] } : {}),
        };
  if (secrets.length === 0) return { params };

  const proxiedHosts = new Set(secrets.map((secret) => checkedEndpoint(secret.endpoint).host));
  const hosts: Record<string, string> = {};
  // A loopback /24 of its own per sandbox start, so nothing else listening on loopback collides with it.
  const prefix = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`;
  for (const host of proxiedHosts) {
    if (isIP(host) !== 0) {
      throw refusal(
        `the key of ${host} can only be kept out of a Modal sandbox for an endpoint given by host name (the sandbox's proxy takes the name over); give the model's base URL a host name`,
      );
    }
    if (Object.keys(hosts).length >= 250)
      throw new RuntimeError("VALIDATION_FAILED", "network: too many host names");
    hosts[host] = `${prefix}.${Object.keys(hosts).length + 1}`;
  }
  const routes = endpoints
    .filter(({ host }) => hosts[host] !== undefined)
    .map(({ host, port, endpoint }) => ({ address: hosts[host]!, port, endpoint }));
  return {
    params,
    keyProxy: {
      policy: { allow: endpoints.map(({ endpoint }) => endpoint), secrets: [...secrets] },
      routes: routes.filter(
        (route, index) => routes.findIndex((other) => other.endpoint === route.endpoint) === index,
      ),
      hosts,
    },
  };
}

/** Why `create` refuses a policy, naming what to do instead. */
function refusal(reason: string): RuntimeError {
  return new RuntimeError(
    "SANDBOX_FAILED",
    `The Modal sandbox provider cannot honour this sandbox's network policy: ${reason}`,
  );
}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || /^(0*:)*:?0*1$/.test(host) || host.startsWith("::ffff:127.");
  return false;
}

/** Whether Modal's domain allow-list entry `entry` (a name, or `*.` and a name) admits `host`. */
function domainCovers(entry: string, host: string): boolean {
  const pattern = entry.toLowerCase();
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) || host === pattern.slice(2);
  return host === pattern;
}

/** Whether CIDR `entry` contains the address `host` (IPv4 by range; IPv6 only as the exact address). */
function cidrCovers(entry: string, host: string): boolean {
  const [base, bits] = entry.split("/");
  if (!base) return false;
  if (isIP(host) !== 4 || isIP(base) !== 4)
    return base.toLowerCase() === host && (bits === undefined || bits === "128");
  const prefix = bits === undefined ? 32 : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
  const value = (ip: string) => ip.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
  const block = 2 ** (32 - prefix);
  return Math.floor(value(host) / block) === Math.floor(value(base) / block);
}
