import { RuntimeError } from "../errors.js";
import { normalizeEndpoint } from "./local/egress-proxy.js";
import { isSecretPath } from "./local/secret-paths.js";
import type { SandboxNetworkPolicy } from "./sandbox-provider.js";

/** An endpoint of `SandboxNetworkPolicy.allow`, checked: `host:port` as `normalizeEndpoint` writes it. */
export interface CheckedEndpoint {
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
}

/**
 * `raw` (an entry of `network.allow` or a secret's endpoint) normalized and
 * split. Throws `VALIDATION_FAILED` for an invalid endpoint, port 0 or above
 * 65535 included. The same check for every provider.
 */
export function checkedEndpoint(raw: string): CheckedEndpoint {
  let endpoint: string;
  try {
    endpoint = normalizeEndpoint(raw);
  } catch (error) {
    throw new RuntimeError("VALIDATION_FAILED", (error as Error).message);
  }
  const separator = endpoint.lastIndexOf(":");
  const port = Number(endpoint.slice(separator + 1));
  if (port < 1 || port > 65_535)
    throw new RuntimeError("VALIDATION_FAILED", `network.allow: ${raw} has no valid port`);
  return { endpoint, host: endpoint.slice(0, separator), port };
}

/**
 * Checks `policy.secrets`: each one's endpoint is one of `policy.allow`, and
 * each of its paths is a plain absolute path (`isSecretPath`). Throws
 * `VALIDATION_FAILED` naming the first that is not.
 */
export function checkPolicySecrets(policy: SandboxNetworkPolicy): void {
  const allowed = new Set(policy.allow.map((raw) => checkedEndpoint(raw).endpoint));
  for (const secret of policy.secrets ?? []) {
    if (!allowed.has(checkedEndpoint(secret.endpoint).endpoint)) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `network.secrets: ${secret.endpoint} is not in network.allow`,
      );
    }
    const invalid = secret.paths?.find((path) => !isSecretPath(path));
    if (invalid !== undefined) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `network.secrets: path ${JSON.stringify(invalid)} is not a plain absolute path`,
      );
    }
  }
}
