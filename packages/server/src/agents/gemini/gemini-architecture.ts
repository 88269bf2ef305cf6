import { GEMINI_API_KEY_ENV, GEMINI_BASE_URL_ENV, GEMINI_TRANSCRIPT_DIR_ENV } from "@agent-runtime/protocol";
import { profileToolsOn } from "../../profiles/profile-tools.js";
import { acpRunnerConfig } from "../acp/acp-runner-config.js";
import { createAcpParser } from "../acp/parser.js";
import type { AgentArchitecture } from "../agent-architecture.js";
import { materializeGeminiProfile } from "./gemini-materialize.js";
import { geminiTranscriptDir, geminiTranscriptPath } from "./transcript-path.js";

/** Without a configured endpoint key, Gemini CLI still needs a non-empty one. */
const PLACEHOLDER_KEY = "agent-runtime";

const geminiArchitecture: AgentArchitecture = {
  id: "gemini",
  // Resume: Gemini CLI loads its sessions (ACP session/load) from its chats, which the runner carries
  // into a new sandbox. Tools: the profile's, mapped to Gemini CLI's (settings `tools.core`).
  capabilities: {
    thinking: true,
    subagents: false,
    permissions: true,
    nativeResume: true,
    modelProviders: false,
    toolRestriction: true,
    skills: true,
    commands: false,
  },

  materialize: materializeGeminiProfile,
  // Gemini CLI's own folder (the profile's skills, its settings): written by the runtime, not the agent's work.
  untrackedPaths: [".gemini"],

  runnerConfig(input) {
    const allowedTools = profileToolsOn(input.profile, "gemini", `agent profile "${input.profile.id}"`);
    return acpRunnerConfig("gemini", input, allowedTools ? { allowedTools } : {});
  },

  // The Gemini API takes its key in this header.
  credentialHeader: (apiKey) => ({ header: "x-goog-api-key", value: apiKey }),
  // The model calls (`…/models/<model>:streamGenerateContent`, `:generateContent`) and nothing else.
  modelApiPaths: (basePath) => [`${basePath.replace(/\/+$/, "")}/v1beta/models`],

  runnerEnv(input) {
    // The profile cannot override the endpoint, the key, HOME or the transcript directory.
    return {
      ...input.profile.env,
      HOME: input.homeDir,
      [GEMINI_TRANSCRIPT_DIR_ENV]: geminiTranscriptDir(input.homeDir),
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
