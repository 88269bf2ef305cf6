import type { PermissionPolicy } from "@agent-runtime/protocol";
import type { PermissionRequestLine } from "../agent-host.js";

/** OpenCode's `permission` config: one action for everything, or an action per permission (`*` for the rest). */
export type OpenCodePermissionConfig = "allow" | Record<string, "allow" | "ask">;

/**
 * OpenCode's permission for each tool name a policy may list, in lower case.
 * Claude Code's names (`Bash`, `Write`, `Edit`, `MultiEdit`, `NotebookEdit`,
 * `Read`, `Glob`, `Grep`, `LS`, `WebFetch`, `WebSearch`, `Task`,
 * `TodoWrite`, `Skill`) and OpenCode's own tool names (`bash`, `edit`,
 * `write`, `apply_patch`, `patch`, `multiedit`, `read`, `glob`, `grep`,
 * `list`, `webfetch`, `websearch`, `task`, `todowrite`, `skill`, `lsp`) both
 * work. Every file-changing tool shares OpenCode's single `edit`
 * permission, so listing any of them asks for all file changes.
 */
const PERMISSION_OF_TOOL: Readonly<Record<string, string>> = {
  bash: "bash",
  write: "edit",
  edit: "edit",
  multiedit: "edit",
  notebookedit: "edit",
  patch: "edit",
  apply_patch: "edit",
  read: "read",
  glob: "glob",
  grep: "grep",
  ls: "list",
  list: "list",
  webfetch: "webfetch",
  websearch: "websearch",
  task: "task",
  todowrite: "todowrite",
  skill: "skill",
  lsp: "lsp",
};

/**
 * The OpenCode permission a policy's tool name stands for: a known tool's
 * (see `PERMISSION_OF_TOOL`); Claude Code's MCP name `mcp__<server>__<tool>`
 * becomes OpenCode's `<server>_<tool>`; any other name (an OpenCode
 * permission such as `external_directory`, a custom or MCP tool id) is kept.
 */
export function openCodePermissionOf(toolName: string): string {
  const known = PERMISSION_OF_TOOL[toolName.toLowerCase()];
  if (known) return known;
  const mcp = /^mcp__(.+?)__(.+)$/.exec(toolName);
  return mcp ? `${mcp[1]}_${mcp[2]}` : toolName;
}

/**
 * OpenCode's `permission` config for a policy. `bypass`: everything is
 * allowed (the sandbox is the boundary). `ask` without tools: every
 * permission asks. `ask` with tools: their permissions ask, everything else
 * is allowed. OpenCode applies the last matching rule, so `*` comes first.
 */
export function openCodePermissionConfig(policy: PermissionPolicy): OpenCodePermissionConfig {
  if (policy.mode === "bypass") return "allow";
  if (policy.tools === undefined) return { "*": "ask" };
  return { "*": "allow", ...Object.fromEntries(policy.tools.map((t) => [openCodePermissionOf(t), "ask"])) };
}

/** The `permission.asked` event's properties (`@opencode-ai/sdk` v2 `EventPermissionAsked`). */
export interface OpenCodePermissionAsked {
  id: string;
  sessionID: string;
  permission: string;
  patterns: string[];
  metadata: Record<string, unknown>;
  tool?: { messageID: string; callID: string };
}

/**
 * A `permission.asked` event as a `permission_request` line: OpenCode's
 * request id, its permission as the tool name (so "always" covers what
 * OpenCode's own "always" would), the tool call's input when known (else
 * OpenCode's metadata), the call id, and the patterns as the title.
 */
export function permissionRequestOf(
  asked: OpenCodePermissionAsked,
  callInput: unknown,
): PermissionRequestLine {
  const patterns = asked.patterns.filter((p) => p !== "*");
  return {
    type: "permission_request",
    requestId: asked.id,
    toolName: asked.permission,
    input: callInput ?? asked.metadata,
    ...(asked.tool ? { toolUseId: asked.tool.callID } : {}),
    ...(patterns.length > 0 ? { title: `${asked.permission}: ${patterns.join(", ")}` } : {}),
  };
}
