import { OPENCODE_TRANSCRIPT_DIR_ENV, openCodeModelId } from "@agent-runtime/protocol";
import type { AgentArchitecture } from "../agent-architecture.js";
import { materializeOpenCodeProfile, OPENCODE_API_KEY_ENV, OPENCODE_BASE_URL_ENV } from "./materialize.js";
import { createOpenCodeParser } from "./parser.js";
import { openCodeTranscriptDir, openCodeTranscriptPath } from "./transcript-path.js";

/** Without a configured endpoint key, OpenAI-compatible clients still need a non-empty one. */
const PLACEHOLDER_KEY = "agent-runtime";

const openCodeArchitecture: AgentArchitecture = {
  id: "opencode",
  // Permissions: the runner maps the policy onto OpenCode's own `permission` config and requests.
  capabilities: { thinking: true, subagents: true, permissions: true, nativeResume: true },

  materialize: materializeOpenCodeProfile,

  runnerConfig(input) {
    const { profile, sessionOptions } = input;
    const model = sessionOptions.model ?? profile.model;
    return {
      architecture: "opencode",
      workspaceDir: input.workspaceDir,
      ...(model ? { model: openCodeModelId(model) } : {}),
      ...(profile.systemPrompt ? { systemPrompt: profile.systemPrompt } : {}),
      ...(profile.tools ? { allowedTools: profile.tools } : {}),
      mcpServers: profile.mcpServers,
      permissions: input.permissions,
      ...(input.resumeSessionId ? { resumeSessionId: input.resumeSessionId } : {}),
      // OpenCode keeps its database and config under HOME; the workspace only gets the profile's files.
      watchIgnore: [".git", "node_modules", ".opencode"],
    };
  },

  // The OpenAI-compatible provider sends the key as a bearer token.
  credentialHeader: (apiKey) => ({ header: "authorization", value: `Bearer ${apiKey}` }),

  runnerEnv(input) {
    // The profile cannot override the endpoint, the key, HOME or the transcript directory.
    return {
      ...input.profile.env,
      HOME: input.homeDir,
      [OPENCODE_TRANSCRIPT_DIR_ENV]: openCodeTranscriptDir(input.homeDir),
      ...(input.endpoint.baseUrl ? { [OPENCODE_BASE_URL_ENV]: openAiBaseUrl(input.endpoint.baseUrl) } : {}),
      [OPENCODE_API_KEY_ENV]: input.endpoint.apiKey ?? PLACEHOLDER_KEY,
    };
  },

  createParser: createOpenCodeParser,

  transcriptPath: openCodeTranscriptPath,
};

/** The endpoint is given as the server root (as for Anthropic); OpenAI clients want its `/v1`. */
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
