import type { Architecture } from "../session.js";

/**
 * The tools a profile may name, and what each agent calls them: the one
 * table the server (validation, subagent files) and the runner (what the
 * agent offers and refuses) share. A profile may use either spelling, and
 * Claude Code's former names (`Task`); each maps to one tool. Names are
 * case-sensitive. A tool one agent lacks has no name there: a profile that
 * lists it cannot run on that agent.
 *
 * MCP tools are spelled the same for both agents, as Claude Code does:
 * `mcp__<server>__<tool>` for one tool, `mcp__<server>` for every tool of a
 * server of the profile's `mcpServers` (OpenCode calls them
 * `<server>_<tool>`; the runner translates).
 */
export interface AgentTool {
  /** Claude Code's name (its `tools` option and permission rules). */
  readonly claude?: string;
  /** Former Claude Code names that still mean this tool. */
  readonly claudeAliases?: readonly string[];
  /** OpenCode's tool id. */
  readonly opencode?: string;
}

export const AGENT_TOOLS: readonly AgentTool[] = [
  { claude: "Read", opencode: "read" },
  { claude: "Write", opencode: "write" },
  { claude: "Edit", opencode: "edit" },
  { claude: "Bash", opencode: "bash" },
  { claude: "Glob", opencode: "glob" },
  { claude: "Grep", opencode: "grep" },
  { claude: "WebFetch", opencode: "webfetch" },
  { claude: "WebSearch", opencode: "websearch" },
  { claude: "Agent", claudeAliases: ["Task"], opencode: "task" },
  { claude: "TodoWrite", opencode: "todowrite" },
  { claude: "Skill", opencode: "skill" },
  { claude: "AskUserQuestion", opencode: "question" },
  { claude: "LSP", opencode: "lsp" },
  { claude: "NotebookEdit" },
  // What OpenCode offers GPT models in place of write and edit.
  { opencode: "apply_patch" },
];

/**
 * OpenCode's tools that share its single `edit` permission: it cannot offer
 * one without the others (it offers `apply_patch` to GPT models, `write` and
 * `edit` to the rest).
 */
export const OPENCODE_EDIT_TOOLS: readonly string[] = ["write", "edit", "apply_patch"];

const byName = new Map<string, AgentTool>(
  AGENT_TOOLS.flatMap((tool) =>
    [tool.claude, tool.opencode, ...(tool.claudeAliases ?? [])]
      .filter((name): name is string => name !== undefined)
      .map((name) => [name, tool] as const),
  ),
);

/** The built-in tool `name` stands for, in any accepted spelling; undefined for any other name. */
export function agentToolOf(name: string): AgentTool | undefined {
  return byName.get(name);
}

/** What an MCP tool name refers to: a server, and one of its tools unless it means all of them. */
export interface McpToolRef {
  readonly server: string;
  readonly tool?: string;
}

/** `mcp__<server>` or `mcp__<server>__<tool>` parsed; undefined for any other name. */
export function mcpToolRef(name: string): McpToolRef | undefined {
  const match = /^mcp__(.+?)(?:__(.+))?$/.exec(name);
  if (!match) return undefined;
  return match[2] === undefined
    ? { server: match[1] as string }
    : { server: match[1] as string, tool: match[2] };
}

/**
 * Whether listing `listed` covers the tool `name`: the same built-in tool in
 * any spelling, the same MCP tool, or any tool of an MCP server listed whole.
 */
export function toolCovers(listed: string, name: string): boolean {
  if (listed === name) return true;
  const tool = agentToolOf(name);
  if (tool) return agentToolOf(listed) === tool;
  const wanted = mcpToolRef(name);
  const given = mcpToolRef(listed);
  return wanted !== undefined && given?.server === wanted.server && given.tool === undefined;
}

/**
 * `name` as `architecture` calls it: a built-in tool's name there, an MCP
 * name unchanged; undefined when that agent has no such tool or the name is
 * unknown.
 */
export function toolNameOn(architecture: Architecture, name: string): string | undefined {
  if (mcpToolRef(name)) return name;
  return nativeName(architecture, agentToolOf(name));
}

/** The built-in tools `architecture` has, in its spelling, in table order. */
export function builtInToolNames(architecture: Architecture): string[] {
  return AGENT_TOOLS.map((tool) => nativeName(architecture, tool)).filter(
    (name): name is string => name !== undefined,
  );
}

/**
 * A tool's name on `architecture`. ACP agents (`codex`, `gemini`, `acp`) have no
 * entry: the runtime cannot choose which of their tools they offer, so a
 * profile that lists built-in tools cannot run on them.
 */
function nativeName(architecture: Architecture, tool: AgentTool | undefined): string | undefined {
  if (architecture === "claude-agent-sdk") return tool?.claude;
  if (architecture === "opencode") return tool?.opencode;
  return undefined;
}
