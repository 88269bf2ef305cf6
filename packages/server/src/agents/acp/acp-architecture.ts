import type { AgentProfile, SessionOptions } from "@agent-runtime/protocol";
import { RuntimeError } from "../../errors.js";
import type { AgentArchitecture } from "../agent-architecture.js";
import { materializeAcpProfile } from "./acp-materialize.js";
import { acpRunnerConfig } from "./acp-runner-config.js";
import { createAcpParser } from "./parser.js";
import { acpTranscriptPath } from "./transcript-path.js";

/** The ACP agent command of a session: its own, else its profile's. */
function acpCommandOf(profile: AgentProfile, sessionOptions: SessionOptions) {
  return sessionOptions.acp ?? profile.acp;
}

const acpArchitecture: AgentArchitecture = {
  id: "acp",
  // Resume: the agent keeps its sessions where it likes, so only a sandbox that survives (an options
  // change restarts the agent in it) lets it load one; a recreated sandbox starts a new session. Tools:
  // its own, unknown to the runtime (a profile's are neither checked nor narrowed).
  capabilities: {
    thinking: true,
    subagents: false,
    permissions: true,
    nativeResume: false,
    modelProviders: false,
    toolRestriction: false,
    skills: false,
    commands: false,
  },

  materialize: materializeAcpProfile,

  assertRunnable(profile, sessionOptions) {
    if (!acpCommandOf(profile, sessionOptions)) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        'Architecture "acp" runs the ACP agent a session or its profile names: set acp {command, args}',
      );
    }
  },

  runnerConfig(input) {
    const acp = acpCommandOf(input.profile, input.sessionOptions);
    return acpRunnerConfig("acp", input, acp ? { acp } : {});
  },

  // An ACP agent of the user's choosing: its key variable is its own business; the OpenAI-style bearer
  // header is what most of them send.
  credentialHeader: (apiKey) => ({ header: "authorization", value: `Bearer ${apiKey}` }),
  // Any tenant's session may run an agent of its choosing: the key goes with model calls only (Anthropic's
  // Messages API, OpenAI's chat completions and Responses API, the model lists), never with the key's other
  // uses at the endpoint (files, batches, fine-tuning, key or model management), as for every other agent.
  modelApiPaths: (basePath) => {
    const root = basePath.replace(/\/+$/, "").replace(/\/v1$/, "");
    return [
      `POST ${root}/v1/messages`,
      `POST ${root}/v1/messages/count_tokens`,
      `POST ${root}/v1/chat/completions`,
      `POST ${root}/v1/responses`,
      `GET ${root}/v1/models`,
    ];
  },

  runnerEnv(input) {
    // The profile cannot override HOME; the agent reads its key from the variables it knows.
    return {
      ...input.profile.env,
      HOME: input.homeDir,
      ...(input.endpoint.baseUrl ? { AGENT_RUNTIME_MODEL_BASE_URL: input.endpoint.baseUrl } : {}),
      AGENT_RUNTIME_MODEL_API_KEY: input.endpoint.apiKey ?? "agent-runtime",
    };
  },

  createParser: createAcpParser,

  transcriptPath: acpTranscriptPath,
};

/**
 * Any agent that speaks the Agent Client Protocol, run as the command a
 * session (`sessionOptions.acp`) or its profile (`acp`) names, hosted by the
 * runner over stdio. A plain object: no I/O.
 */
export function createAcpArchitecture(): AgentArchitecture {
  return acpArchitecture;
}
