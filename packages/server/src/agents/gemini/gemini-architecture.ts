import { GEMINI_API_KEY_ENV, GEMINI_BASE_URL_ENV } from "@agent-runtime/protocol";
import { createAcpParser } from "../acp/parser.js";
import { acpRunnerConfig } from "../acp/acp-runner-config.js";
import type { AgentArchitecture } from "../agent-architecture.js";
import { materializeGeminiProfile } from "./gemini-materialize.js";
import { geminiTranscriptPath } from "./transcript-path.js";

/** Without a configured endpoint key, Gemini CLI still needs a non-empty one. */
const PLACEHOLDER_KEY = "agent-runtime";

const geminiArchitecture: AgentArchitecture = {
  id: "gemini",
  // Resume: Gemini CLI loads its sessions (ACP session/load) while its sandbox lives; its chats are not
  // carried into a new sandbox yet. Tools: its own set, which the runtime cannot narrow.
  capabilities: {
    thinking: true,
    subagents: false,
    permissions: true,
    nativeResume: false,
    modelProviders: false,
  },

  materialize: materializeGeminiProfile,

  runnerConfig: (input) => acpRunnerConfig("gemini", input),

  // The Gemini API takes its key in this header.
  credentialHeader: (apiKey) => ({ header: "x-goog-api-key", value: apiKey }),
  // The model calls (`…/models/<model>:streamGenerateContent`, `:generateContent`) and nothing else.
  modelApiPaths: (basePath) => [`${basePath.replace(/\/+$/, "")}/v1beta/models`],

  runnerEnv(input) {
    // The profile cannot override the endpoint, the key or HOME.
    return {
      ...input.profile.env,
      HOME: input.homeDir,
      ...(input.endpoint.baseUrl
        ? { [GEMINI_BASE_URL_ENV]: input.endpoint.baseUrl.replace(/\/+$/, "") }
        : {}),
      [GEMINI_API_KEY_ENV]: input.endpoint.apiKey ?? PLACEHOLDER_KEY,
    };
  },

  createParser: createAcpParser,

  transcriptPath: geminiTranscriptPath,
};

/**
 * Gemini CLI (`@google/gemini-cli`) in ACP mode, hosted by the runner over
 * ACP, against a Gemini API endpoint. A plain object: no I/O.
 */
export function createGeminiArchitecture(): AgentArchitecture {
  return geminiArchitecture;
}
