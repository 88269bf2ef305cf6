import { CLAUDE_CODE_TURN_ENV } from "@agent-runtime/protocol";
import { profileToolsOn } from "../../profiles/profile-tools.js";
import type { AgentArchitecture } from "../agent-architecture.js";
import { runnableMcpServers } from "../runnable-mcp-servers.js";
import { materializeClaudeProfile } from "./materialize.js";
import { createClaudeParser } from "./parser.js";
import { claudeTranscriptPath } from "./transcript-path.js";

/**
 * Environment that keeps Claude Code offline-friendly and turn-deterministic
 * inside a sandbox: no updater, telemetry, error reporting or other
 * non-essential traffic, no auto-memory writes outside the workspace, and
 * the runtime's turn model (`CLAUDE_CODE_TURN_ENV`).
 */
const QUIET_ENV: Readonly<Record<string, string>> = {
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
  DISABLE_ERROR_REPORTING: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  CLAUDE_CODE_DISABLE_TERMINAL_TITLE: "1",
  CLAUDE_CODE_DISABLE_AUTO_MEMORY: "1",
  ...CLAUDE_CODE_TURN_ENV,
};

const claudeAgentSdkArchitecture: AgentArchitecture = {
  id: "claude-agent-sdk",
  capabilities: { thinking: true, subagents: true, permissions: true, nativeResume: true },

  materialize: materializeClaudeProfile,

  runnerConfig(input) {
    const { profile, sessionOptions } = input;
    const model = sessionOptions.model ?? profile.model;
    const allowedTools = profileToolsOn(profile, "claude-agent-sdk", `agent profile "${profile.id}"`);
    return {
      architecture: "claude-agent-sdk",
      workspaceDir: input.workspaceDir,
      ...(model ? { model } : {}),
      ...(profile.systemPrompt ? { systemPrompt: profile.systemPrompt } : {}),
      ...(allowedTools ? { allowedTools } : {}),
      mcpServers: runnableMcpServers(profile),
      permissions: input.permissions,
      ...(input.resumeSessionId ? { resumeSessionId: input.resumeSessionId } : {}),
    };
  },

  credentialHeader: (apiKey) => ({ header: "x-api-key", value: apiKey }),
  // Messages (`?beta=true`) and `/v1/messages/count_tokens`, and the model list.
  // Exactly what Claude Code calls: never the key's other uses (batches, files, model management).
  modelApiPaths: (basePath) => [
    `POST ${basePath}/v1/messages`,
    `POST ${basePath}/v1/messages/count_tokens`,
    `GET ${basePath}/v1/models`,
  ],

  runnerEnv(input) {
    return {
      // The profile cannot override the endpoint, the key, HOME or the quiet settings.
      ...input.profile.env,
      ...QUIET_ENV,
      HOME: input.homeDir,
      ...(input.endpoint.baseUrl ? { ANTHROPIC_BASE_URL: input.endpoint.baseUrl } : {}),
      ...(input.endpoint.apiKey ? { ANTHROPIC_API_KEY: input.endpoint.apiKey } : {}),
    };
  },

  createParser: createClaudeParser,

  transcriptPath: claudeTranscriptPath,
};

/**
 * Claude Code through the Claude Agent SDK, hosted by the runner with
 * streaming input. The runner must run as a non-root uid: Claude Code
 * refuses `bypassPermissions` as root. A plain object: no I/O.
 */
export function createClaudeAgentSdkArchitecture(): AgentArchitecture {
  return claudeAgentSdkArchitecture;
}
