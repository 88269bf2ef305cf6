import type { AgentProfile } from "@agent-runtime/protocol";
import type { RunnerInput } from "../agent-architecture.js";

/**
 * The runner input the architecture tests use for `profile`: session model
 * `session-model`, workspace `/workspace`, HOME `/home/agent`, endpoint
 * `http://127.0.0.1:9999` with key `sk-endpoint`, permissions `ask` for
 * `Bash`, resuming `resumeSessionId`.
 */
export function testRunnerInput(profile: AgentProfile, resumeSessionId: string): RunnerInput {
  return {
    profile,
    sessionOptions: { model: "session-model" },
    workspaceDir: "/workspace",
    homeDir: "/home/agent",
    endpoint: { baseUrl: "http://127.0.0.1:9999", apiKey: "sk-endpoint" },
    permissions: { mode: "ask", tools: ["Bash"] },
    resumeSessionId,
  };
}
