import type { AgentProfile } from "@agent-runtime/protocol";
import type { AgentArchitecture, ModelEndpoint } from "../agents/agent-architecture.js";
import { endpointOf } from "../sandboxes/endpoint.js";
import type { SandboxNetworkPolicy } from "../sandboxes/sandbox-provider.js";

/** The model endpoint when none is configured: Anthropic's API. */
export const DEFAULT_MODEL_BASE_URL = "https://api.anthropic.com";

/** What the agent sees instead of the real key when the sandbox's proxy injects it. */
export const PLACEHOLDER_API_KEY = "sk-agent-runtime-placeholder";

export interface SandboxEgress {
  /** The policy to create the sandbox with. */
  readonly network: SandboxNetworkPolicy;
  /** The endpoint as the agent inside must use it (placeholder key, plain HTTP at the endpoint's own port). */
  readonly agentEndpoint: ModelEndpoint;
}

/**
 * The egress a session's sandbox needs: the model endpoint (with its key
 * injected by the provider's proxy, so the key never enters the sandbox, on
 * the architecture's `modelApiPaths` only: the proxy refuses the endpoint's
 * other paths) and the profile's external MCP servers and `network.allow`
 * endpoints. Everything else stays unreachable.
 */
export function sandboxEgressFor(
  endpoint: ModelEndpoint,
  architecture: AgentArchitecture,
  profile: AgentProfile,
): SandboxEgress {
  const url = new URL(endpoint.baseUrl ?? DEFAULT_MODEL_BASE_URL);
  const tls = url.protocol === "https:";
  const model = endpointOf(url);
  const allow = new Set([model]);
  for (const server of Object.values(profile.mcpServers)) {
    if (server.type === "http" || server.type === "sse") allow.add(endpointOf(new URL(server.url)));
  }
  for (const endpoint of profile.network.allow) allow.add(endpoint);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  const agentUrl = new URL(url);
  agentUrl.protocol = "http:";
  // Plain HTTP at the endpoint's own port (`http://api.anthropic.com:443`), which the proxy reads.
  agentUrl.port = model.slice(model.lastIndexOf(":") + 1);
  const paths = architecture.modelApiPaths?.(path);
  const secret = endpoint.apiKey
    ? [
        {
          endpoint: model,
          ...architecture.credentialHeader(endpoint.apiKey),
          ...(tls ? { tls } : {}),
          ...(paths ? { paths } : {}),
        },
      ]
    : [];
  return {
    network: { allow: [...allow], secrets: secret },
    agentEndpoint: {
      baseUrl: `${agentUrl.protocol}//${agentUrl.host}${path}`,
      ...(endpoint.apiKey ? { apiKey: PLACEHOLDER_API_KEY } : {}),
    },
  };
}
