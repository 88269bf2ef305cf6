import type { RunnerConfigInput } from "@agent-runtime/protocol";
import type { RunnerInput } from "../agent-architecture.js";
import { runnableMcpServers } from "../runnable-mcp-servers.js";

/**
 * The runner configuration of an agent spoken to over ACP (`acp`, `codex`,
 * `gemini`): the session's model (else the profile's), the system prompt,
 * the runnable MCP servers, the permission policy and the native session to
 * resume; `extra` adds what one architecture needs beyond that.
 */
export function acpRunnerConfig(
  architecture: "acp" | "codex" | "gemini",
  input: RunnerInput,
  extra: Partial<RunnerConfigInput> = {},
): RunnerConfigInput {
  const { profile, sessionOptions } = input;
  const model = sessionOptions.model ?? profile.model;
  return {
    architecture,
    workspaceDir: input.workspaceDir,
    ...(model ? { model } : {}),
    ...(profile.systemPrompt ? { systemPrompt: profile.systemPrompt } : {}),
    ...extra,
    mcpServers: runnableMcpServers(profile),
    permissions: input.permissions,
    ...(input.resumeSessionId ? { resumeSessionId: input.resumeSessionId } : {}),
  };
}
