import { CODEX_API_KEY_ENV, CODEX_BASE_URL_ENV, CODEX_TRANSCRIPT_DIR_ENV } from "@agent-runtime/protocol";
import { materializeAcpProfile } from "../acp/acp-materialize.js";
import { acpRunnerConfig } from "../acp/acp-runner-config.js";
import { createAcpParser } from "../acp/parser.js";
import type { AgentArchitecture } from "../agent-architecture.js";
import { codexTranscriptDir, codexTranscriptPath } from "./transcript-path.js";

/** Without a configured endpoint key, Codex's provider still needs a non-empty one. */
const PLACEHOLDER_KEY = "agent-runtime";

const codexArchitecture: AgentArchitecture = {
  id: "codex",
  // Permissions: approvals through ACP requests. Tools: a profile's are checked for a counterpart
  // (`AGENT_TOOLS`), but Codex offers its own set, which the runtime cannot narrow. Skills and commands
  // are not written.
  capabilities: {
    thinking: true,
    subagents: false,
    permissions: true,
    nativeResume: true,
    modelProviders: false,
    toolRestriction: false,
    skills: false,
    commands: false,
  },

  materialize: materializeAcpProfile,

  runnerConfig: (input) => acpRunnerConfig("codex", input),

  // Codex's provider sends the key as a bearer token.
  credentialHeader: (apiKey) => ({ header: "authorization", value: `Bearer ${apiKey}` }),
  // The Responses API and the model list, under the `/v1` its base URL ends with.
  modelApiPaths: (basePath) => {
    const v1 = openAiBaseUrl(basePath);
    return [`POST ${v1}/responses`, `GET ${v1}/models`];
  },

  runnerEnv(input) {
    // The profile cannot override the endpoint, the key, HOME or the transcript directory.
    return {
      ...input.profile.env,
      HOME: input.homeDir,
      [CODEX_TRANSCRIPT_DIR_ENV]: codexTranscriptDir(input.homeDir),
      ...(input.endpoint.baseUrl ? { [CODEX_BASE_URL_ENV]: openAiBaseUrl(input.endpoint.baseUrl) } : {}),
      [CODEX_API_KEY_ENV]: input.endpoint.apiKey ?? PLACEHOLDER_KEY,
    };
  },

  createParser: createAcpParser,

  transcriptPath: codexTranscriptPath,
};

/** The endpoint is given as the server root (as for Anthropic); Codex's provider wants its `/v1`. */
function openAiBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? trimmed : `${trimmed}/v1`;
}

/**
 * OpenAI's Codex through its ACP adapter (`@zed-industries/codex-acp`),
 * hosted by the runner over ACP, against a Responses API endpoint. A plain
 * object: no I/O.
 */
export function createCodexArchitecture(): AgentArchitecture {
  return codexArchitecture;
}
