import type { Architecture } from "../session.js";

/**
 * The tools a profile may name, and what each agent calls them: the one
 * table the server (validation, subagent files) and the runner (what the
 * agent offers and refuses) share. A profile may use Claude Code's or
 * OpenCode's spelling, and Claude Code's former names (`Task`); each maps to
 * one tool, and to its counterpart on Codex and Gemini CLI. Names are
 * case-sensitive. A tool one agent lacks has no name there: a profile that
 * lists it cannot run on that agent.
 *
 * MCP tools are spelled the same for every agent, as Claude Code does:
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
  /**
   * Codex's counterpart (`codex`): the tool of Codex that does the work.
   * Several tools share one (its shell, `exec_command`, reads, lists and
   * searches too). `null`: Codex needs no such tool, since it serves a
   * profile part the runtime does not give Codex (skills, subagents); the
   * tool is left out with that part. Absent: Codex has no counterpart.
   */
  readonly codex?: string | null;
  /** Gemini CLI's counterpart (`gemini`), as for `codex`. */
  readonly gemini?: string | null;
}

export const AGENT_TOOLS: readonly AgentTool[] = [
  { claude: "Read", opencode: "read", codex: "exec_command", gemini: "read_file" },
  { claude: "Write", opencode: "write", codex: "apply_patch", gemini: "write_file" },
  { claude: "Edit", opencode: "edit", codex: "apply_patch", gemini: "replace" },
  { claude: "Bash", opencode: "bash", codex: "exec_command", gemini: "run_shell_command" },
  { claude: "Glob", opencode: "glob", codex: "exec_command", gemini: "glob" },
  { claude: "Grep", opencode: "grep", codex: "exec_command", gemini: "grep_search" },
  // Codex's web search also opens pages (its open_page action).
  { claude: "WebFetch", opencode: "webfetch", codex: "web_search", gemini: "web_fetch" },
  { claude: "WebSearch", opencode: "websearch", codex: "web_search", gemini: "google_web_search" },
  { claude: "Agent", claudeAliases: ["Task"], opencode: "task", codex: null, gemini: null },
  { claude: "TodoWrite", opencode: "todowrite", codex: "update_plan", gemini: "write_todos" },
  { claude: "Skill", opencode: "skill", codex: null, gemini: "activate_skill" },
  { claude: "AskUserQuestion", opencode: "question", codex: "request_user_input", gemini: "ask_user" },
  { claude: "LSP", opencode: "lsp" },
  { claude: "NotebookEdit" },
  // What OpenCode offers GPT models in place of write and edit; Codex's own patch tool.
  { opencode: "apply_patch", codex: "apply_patch" },
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
 * name unchanged; `null` when the agent needs no such tool (see
 * `AgentTool.codex`); undefined when that agent has no such tool, the name
 * is unknown, or the agent is a generic ACP agent (`acp`), whose tools the
 * runtime does not know.
 */
export function toolNameOn(architecture: Architecture, name: string): string | null | undefined {
  if (mcpToolRef(name)) return name;
  return nativeName(architecture, agentToolOf(name));
}

/** The built-in tools `architecture` has, in its spelling, in table order, each once. */
export function builtInToolNames(architecture: Architecture): string[] {
  return [
    ...new Set(
      AGENT_TOOLS.map((tool) => nativeName(architecture, tool)).filter(
        (name): name is string => typeof name === "string",
      ),
    ),
  ];
}

/**
 * The tools of the table that have a counterpart on `architecture`, in the
 * profile's vocabulary (Claude Code's spelling, else OpenCode's), each with
 * the agent's own name: e.g. `Read (exec_command)` on Codex, `Read` on
 * Claude Code.
 */
export function toolVocabularyOn(architecture: Architecture): string[] {
  return AGENT_TOOLS.flatMap((tool) => {
    const native = nativeName(architecture, tool);
    const ours = tool.claude ?? tool.opencode;
    if (typeof native !== "string" || ours === undefined) return [];
    return [native === ours ? ours : `${ours} (${native})`];
  });
}

/** A tool's name on `architecture`. A generic ACP agent (`acp`) has no entry: its tools are its own. */
function nativeName(architecture: Architecture, tool: AgentTool | undefined): string | null | undefined {
  if (architecture === "claude-agent-sdk") return tool?.claude;
  if (architecture === "opencode") return tool?.opencode;
  if (architecture === "codex") return tool?.codex;
  if (architecture === "gemini") return tool?.gemini;
  return undefined;
}
