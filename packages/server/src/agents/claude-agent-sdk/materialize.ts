import { posix } from "node:path";
import type { AgentProfile, SessionOptions } from "@agent-runtime/protocol";
import { subagentToolsOn } from "../../profiles/profile-tools.js";
import type { SandboxFile } from "../../sandboxes/sandbox-provider.js";
import type { MaterializeInput } from "../agent-architecture.js";
import { commandFiles, defaultFiles, safeName, skillFiles, withFrontMatter } from "../profile-files.js";
import { runnableMcpServers } from "../runnable-mcp-servers.js";

/**
 * The files that make a profile visible to Claude Code (loaded through
 * `settingSources: ["project"]`):
 * - `CLAUDE.md` (the profile's agentMDFile) at the workspace root;
 * - `.claude/skills/<name>/SKILL.md` with `name`/`description` front matter, plus the skill's files;
 * - `.claude/agents/<name>.md` subagents (their tools in Claude Code's names), `.claude/commands/<name>.md` commands;
 * - `.mcp.json` when the profile has MCP servers;
 * - `.claude/settings.json`, runtime-owned and read-only;
 * - the profile's default files, relative to the workspace.
 *
 * Throws `INVALID_PATH` when a relative path would leave its folder (`..`,
 * absolute paths, NUL): nothing is written outside the workspace.
 */
export function materializeClaudeProfile(input: MaterializeInput): SandboxFile[] {
  const { profile, workspaceDir } = input;
  const at = (...relative: string[]) => posix.join(workspaceDir, ...relative);
  const files: SandboxFile[] = [];

  files.push(...defaultFiles(workspaceDir, profile.defaultFiles));
  if (profile.agentMDFile !== undefined) files.push({ path: at("CLAUDE.md"), content: profile.agentMDFile });
  files.push(...skillFiles(at(".claude", "skills"), profile.skills));

  for (const [index, agent] of profile.subagents.entries()) {
    const tools = subagentToolsOn(profile, index, "claude-agent-sdk", `agent profile "${profile.id}"`);
    files.push({
      path: at(".claude", "agents", `${safeName(agent.name)}.md`),
      content: withFrontMatter(
        {
          name: agent.name,
          description: agent.description,
          ...(tools ? { tools: tools.join(", ") } : {}),
          ...(agent.model ? { model: agent.model } : {}),
        },
        agent.prompt,
      ),
    });
  }

  files.push(...commandFiles(at(".claude", "commands"), profile.commands));

  if (Object.keys(profile.mcpServers).length > 0) {
    files.push({
      path: at(".mcp.json"),
      content: `${JSON.stringify({ mcpServers: runnableMcpServers(profile) }, null, 2)}\n`,
    });
  }

  files.push({
    path: at(".claude", "settings.json"),
    content: `${JSON.stringify(claudeSettings(profile, input.sessionOptions), null, 2)}\n`,
    readOnly: true,
  });
  return files;
}

/**
 * Project settings owned by the runtime: the agent cannot change its own
 * permissions or model. The profile's tools are not permission rules here:
 * an allow rule would skip the permission policy's questions; the runner
 * restricts the tools themselves.
 */
function claudeSettings(profile: AgentProfile, sessionOptions: SessionOptions): Record<string, unknown> {
  const model = sessionOptions.model ?? profile.model;
  return {
    ...(model ? { model } : {}),
    // The runner passes the profile's MCP servers itself; the project file must not ask for approval.
    enableAllProjectMcpServers: Object.keys(profile.mcpServers).length > 0,
    includeCoAuthoredBy: false,
    cleanupPeriodDays: 3650,
  };
}
