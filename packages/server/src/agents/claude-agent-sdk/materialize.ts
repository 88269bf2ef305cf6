import { posix } from "node:path";
import type { AgentProfile, SessionOptions } from "@agent-runtime/protocol";
import { stringify } from "yaml";
import { RuntimeError } from "../../errors.js";
import type { SandboxFile } from "../../sandboxes/sandbox-provider.js";
import type { MaterializeInput } from "../agent-architecture.js";

/**
 * The files that make a profile visible to Claude Code (loaded through
 * `settingSources: ["project"]`):
 * - `CLAUDE.md` (the profile's agentMDFile) at the workspace root;
 * - `.claude/skills/<name>/SKILL.md` with `name`/`description` front matter, plus the skill's files;
 * - `.claude/agents/<name>.md` subagents, `.claude/commands/<name>.md` commands;
 * - `.mcp.json` when the profile has MCP servers;
 * - `.claude/settings.json`, runtime-owned and read-only;
 * - the profile's default files, relative to the workspace.
 *
 * Throws `INVALID_PATH` when a relative path would leave its folder (`..`,
 * absolute paths, backslashes, NUL): nothing is written outside the workspace.
 */
export function materializeClaudeProfile(input: MaterializeInput): SandboxFile[] {
  const { profile, workspaceDir } = input;
  const at = (...relative: string[]) => posix.join(workspaceDir, ...relative);
  const files: SandboxFile[] = [];

  for (const file of profile.defaultFiles)
    files.push({ path: at(safeRelative(file.path)), content: file.content });
  if (profile.agentMDFile !== undefined) files.push({ path: at("CLAUDE.md"), content: profile.agentMDFile });

  for (const skill of profile.skills) {
    const dir = at(".claude", "skills", safeName(skill.name));
    files.push({
      path: posix.join(dir, "SKILL.md"),
      content: withFrontMatter({ name: skill.name, description: skill.description }, skill.content),
    });
    for (const file of skill.files) {
      const relative = safeRelative(file.path);
      if (relative === "SKILL.md") throw invalidPath(file.path, "SKILL.md is written by the runtime");
      files.push({ path: posix.join(dir, relative), content: file.content });
    }
  }

  for (const agent of profile.subagents) {
    files.push({
      path: at(".claude", "agents", `${safeName(agent.name)}.md`),
      content: withFrontMatter(
        {
          name: agent.name,
          description: agent.description,
          ...(agent.tools ? { tools: agent.tools.join(", ") } : {}),
          ...(agent.model ? { model: agent.model } : {}),
        },
        agent.prompt,
      ),
    });
  }

  for (const command of profile.commands) {
    files.push({
      path: at(".claude", "commands", `${safeName(command.name)}.md`),
      content: withFrontMatter(
        command.description ? { description: command.description } : {},
        command.prompt,
      ),
    });
  }

  if (Object.keys(profile.mcpServers).length > 0) {
    files.push({
      path: at(".mcp.json"),
      content: `${JSON.stringify({ mcpServers: profile.mcpServers }, null, 2)}\n`,
    });
  }

  files.push({
    path: at(".claude", "settings.json"),
    content: `${JSON.stringify(claudeSettings(profile, input.sessionOptions), null, 2)}\n`,
    readOnly: true,
  });
  return files;
}

/** Project settings owned by the runtime: the agent cannot change its own permissions or model. */
function claudeSettings(profile: AgentProfile, sessionOptions: SessionOptions): Record<string, unknown> {
  const model = sessionOptions.model ?? profile.model;
  return {
    ...(model ? { model } : {}),
    ...(profile.tools ? { permissions: { allow: profile.tools } } : {}),
    // The runner passes the profile's MCP servers itself; the project file must not ask for approval.
    enableAllProjectMcpServers: Object.keys(profile.mcpServers).length > 0,
    includeCoAuthoredBy: false,
    cleanupPeriodDays: 3650,
  };
}

function withFrontMatter(fields: Record<string, string>, body: string): string {
  const header = Object.keys(fields).length > 0 ? stringify(fields, { lineWidth: 0 }) : "";
  return `---\n${header}---\n\n${body.endsWith("\n") ? body : `${body}\n`}`;
}

/** A single path segment usable as a file or folder name. */
function safeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes(".."))
    throw invalidPath(name, "not a safe name");
  return name;
}

/** A `/`-separated relative path that stays inside its folder, normalised. */
function safeRelative(path: string): string {
  if (path.includes("\0") || path.includes("\\")) throw invalidPath(path, "contains NUL or a backslash");
  if (path.startsWith("/")) throw invalidPath(path, "is absolute");
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0 || segments.some((s) => s === "..")) throw invalidPath(path, "leaves its folder");
  return segments.join("/");
}

function invalidPath(path: string, reason: string): RuntimeError {
  return new RuntimeError("INVALID_PATH", `profile path ${JSON.stringify(path)} ${reason}`);
}
