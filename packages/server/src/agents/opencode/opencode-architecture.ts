import { OPENCODE_TRANSCRIPT_DIR_ENV, openCodeModelId } from "@agent-runtime/protocol";
import { profileToolsOn } from "../../profiles/profile-tools.js";
import type { AgentArchitecture } from "../agent-architecture.js";
import { runnableMcpServers } from "../runnable-mcp-servers.js";
import {
  hostedProviderCredentials,
  OPENCODE_HOSTED_KEY_ENV,
  OPENCODE_HOSTED_PROVIDER,
} from "./hosted-provider.js";
import {
  materializeOpenCodeProfile,
  OPENCODE_API_KEY_ENV,
  OPENCODE_BASE_URL_ENV,
  providerEnv,
} from "./materialize.js";
import { createOpenCodeParser } from "./parser.js";
import { openCodeTranscriptDir, openCodeTranscriptPath } from "./transcript-path.js";

/** Without a configured endpoint key, OpenAI-compatible clients still need a non-empty one. */
const PLACEHOLDER_KEY = "agent-runtime";

const openCodeArchitecture: AgentArchitecture = {
  id: "opencode",
  // Permissions: the runner maps the policy onto OpenCode's own `permission` config and requests.
  capabilities: {
    thinking: true,
    subagents: true,
    permissions: true,
    nativeResume: true,
    modelProviders: true,
  },

  // OpenCode keeps its database under HOME; `.opencode` and the read-only `opencode.json` in the workspace are the runtime's.
  untrackedPaths: [".opencode", "opencode.json"],

  materialize: materializeOpenCodeProfile,

  runnerConfig(input) {
    const { profile, sessionOptions } = input;
    const model = sessionOptions.model ?? profile.model;
    const allowedTools = profileToolsOn(profile, "opencode", `agent profile "${profile.id}"`);
    return {
      architecture: "opencode",
      workspaceDir: input.workspaceDir,
      ...(model ? { model: openCodeModelId(model) } : {}),
      ...(profile.systemPrompt ? { systemPrompt: profile.systemPrompt } : {}),
      ...(allowedTools ? { allowedTools } : {}),
      mcpServers: runnableMcpServers(profile),
      permissions: input.permissions,
      ...(input.resumeSessionId ? { resumeSessionId: input.resumeSessionId } : {}),
    };
  },

  // The OpenAI-compatible provider sends the key as a bearer token.
  credentialHeader: (apiKey) => ({ header: "authorization", value: `Bearer ${apiKey}` }),
  // Chat completions and the model list, under the `/v1` its base URL ends with.
  modelApiPaths: (basePath) => {
    const v1 = openAiBaseUrl(basePath);
    // Exactly what OpenCode calls: never stored completions or model management with the key.
    return [`POST ${v1}/chat/completions`, `GET ${v1}/models`];
  },
  // OpenCode's hosted models speak several APIs, each with its own key header.
  providerCredentials: (provider, basePath, apiKey) =>
    provider === OPENCODE_HOSTED_PROVIDER ? hostedProviderCredentials(basePath, apiKey) : undefined,

  runnerEnv(input) {
    // The profile cannot override the endpoint, the key, HOME or the transcript directory.
    return {
      ...input.profile.env,
      HOME: input.homeDir,
      [OPENCODE_TRANSCRIPT_DIR_ENV]: openCodeTranscriptDir(input.homeDir),
      ...(input.endpoint.baseUrl ? { [OPENCODE_BASE_URL_ENV]: openAiBaseUrl(input.endpoint.baseUrl) } : {}),
      [OPENCODE_API_KEY_ENV]: input.endpoint.apiKey ?? PLACEHOLDER_KEY,
      ...hostedKeyEnv(input.providerEndpoints?.[OPENCODE_HOSTED_PROVIDER]),
      ...Object.fromEntries(
        Object.entries(input.providerEndpoints ?? {}).flatMap(([name, endpoint]) => {
          const env = providerEnv(name);
          return [
            ...(endpoint.baseUrl ? [[env.baseUrl, openAiBaseUrl(endpoint.baseUrl)]] : []),
            [env.apiKey, endpoint.apiKey ?? PLACEHOLDER_KEY],
          ];
        }),
      ),
    };
  },

  createParser: createOpenCodeParser,

  transcriptPath: openCodeTranscriptPath,
};

/** The endpoint is given as the server root (as for Anthropic); OpenAI clients want its `/v1`. */
/** With the hosted models configured, OpenCode's own key variable holds what the agent holds of their key (a placeholder behind the proxy). */
function hostedKeyEnv(endpoint: { apiKey?: string } | undefined): Record<string, string> {
  return endpoint ? { [OPENCODE_HOSTED_KEY_ENV]: endpoint.apiKey ?? PLACEHOLDER_KEY } : {};
}

function openAiBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? trimmed : `${trimmed}/v1`;
}

/**
 * OpenCode (`opencode-ai`), hosted by the runner as a long-lived
 * `opencode serve` driven through `@opencode-ai/sdk`, against an
 * OpenAI-compatible endpoint. A plain object: no I/O.
 */
export function createOpenCodeArchitecture(): AgentArchitecture {
  return openCodeArchitecture;
}
