import type { AgentProfile } from "@agent-runtime/protocol";
import type { AgentArchitecture, ModelCredential, ModelEndpoint } from "../agents/agent-architecture.js";
import { endpointOf } from "../sandboxes/endpoint.js";
import type { SandboxNetworkPolicy, SandboxSecret } from "../sandboxes/sandbox-provider.js";

/** The model endpoint when none is configured: Anthropic's API. */
export const DEFAULT_MODEL_BASE_URL = "https://api.anthropic.com";

/** What the agent sees instead of the real key when the sandbox's proxy injects it. */
export const PLACEHOLDER_API_KEY = "sk-agent-runtime-placeholder";

export interface SandboxEgress {
  /** The policy to create the sandbox with. */
  readonly network: SandboxNetworkPolicy;
  /** The endpoint as the agent inside must use it (placeholder key, plain HTTP at the endpoint's own port). */
  readonly agentEndpoint: ModelEndpoint;
  /** The further model providers as the agent inside must use them, by name. */
  readonly providerEndpoints: Readonly<Record<string, ModelEndpoint>>;
}

/**
 * The egress a session's sandbox needs: the model endpoint and each further
 * model provider the architecture can use (each with its key injected by
 * the provider's proxy, so no key enters the sandbox, on the architecture's
 * `modelApiPaths` only: the proxy refuses the endpoint's other paths) and
 * the profile's external MCP servers and `network.allow` endpoints.
 * Everything else stays unreachable.
 */
export function sandboxEgressFor(
  endpoint: ModelEndpoint,
  architecture: AgentArchitecture,
  profile: AgentProfile,
  providers: Readonly<Record<string, ModelEndpoint>> = {},
): SandboxEgress {
  const main = throughProxy(
    { baseUrl: endpoint.baseUrl ?? DEFAULT_MODEL_BASE_URL, apiKey: endpoint.apiKey },
    architecture,
  );
  const allow = new Set([main.endpoint]);
  const secrets = [...main.secrets];
  const providerEndpoints: Record<string, ModelEndpoint> = {};
  if (architecture.capabilities.modelProviders) {
    for (const [name, provider] of Object.entries(providers)) {
      if (!provider.baseUrl) continue;
      const routed = throughProxy({ baseUrl: provider.baseUrl, apiKey: provider.apiKey }, architecture, name);
      allow.add(routed.endpoint);
      secrets.push(...routed.secrets);
      providerEndpoints[name] = routed.agentEndpoint;
    }
  }
  for (const server of Object.values(profile.mcpServers)) {
    if (server.type === "http" || server.type === "sse") allow.add(endpointOf(new URL(server.url)));
  }
  for (const endpoint of profile.network.allow) allow.add(endpoint);
  return { network: { allow: [...allow], secrets }, agentEndpoint: main.agentEndpoint, providerEndpoints };
}

/**
 * One model endpoint behind the proxy: its `host:port`, the secrets the
 * proxy injects (the architecture's key header on its model API paths, or
 * what it says for further `provider`, see
 * `AgentArchitecture.providerCredentials`), and the endpoint as the agent
 * uses it (plain HTTP at the endpoint's own port, which the proxy reads,
 * with a placeholder key).
 */
function throughProxy(
  endpoint: { baseUrl: string; apiKey?: string | undefined },
  architecture: AgentArchitecture,
  provider?: string,
): { endpoint: string; secrets: SandboxSecret[]; agentEndpoint: ModelEndpoint } {
  const url = new URL(endpoint.baseUrl);
  const tls = url.protocol === "https:";
  const hostPort = endpointOf(url);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  const agentUrl = new URL(url);
  agentUrl.protocol = "http:";
  // Plain HTTP at the endpoint's own port (`http://api.anthropic.com:443`), which the proxy reads.
  agentUrl.port = hostPort.slice(hostPort.lastIndexOf(":") + 1);
  const credentials = (apiKey: string): ModelCredential[] => {
    const own =
      provider === undefined ? undefined : architecture.providerCredentials?.(provider, path, apiKey);
    if (own) return own;
    const paths = architecture.modelApiPaths?.(path);
    return [{ ...architecture.credentialHeader(apiKey), ...(paths ? { paths } : {}) }];
  };
  const secrets: SandboxSecret[] = endpoint.apiKey
    ? credentials(endpoint.apiKey).map((credential) => ({
        endpoint: hostPort,
        ...credential,
        ...(tls ? { tls } : {}),
      }))
    : [];
  return {
    endpoint: hostPort,
    secrets,
    agentEndpoint: {
      baseUrl: `${agentUrl.protocol}//${agentUrl.host}${path}`,
      ...(endpoint.apiKey ? { apiKey: PLACEHOLDER_API_KEY } : {}),
    },
  };
}
