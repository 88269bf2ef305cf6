import type { PermissionPolicy } from "../session.js";
import { agentToolOf, mcpToolRef, OPENCODE_EDIT_TOOLS } from "./tool-names.js";

export type OpenCodePermissionAction = "allow" | "ask" | "deny";

/**
 * OpenCode's `permission` config: one action for everything, or rules by
 * permission name (wildcards allowed). OpenCode applies the last rule that
 * matches, so a catch-all `*` comes first; a tool whose permission ends on a
 * `*` rule that denies is not offered to the model at all, and a call of it
 * is refused as an unavailable tool.
 */
export type OpenCodePermissionConfig = "allow" | Record<string, OpenCodePermissionAction>;

/** OpenCode's permissions that guard no tool of their own: a tool restriction leaves them to the policy. */
const NON_TOOL_PERMISSIONS = ["external_directory", "doom_loop"];

/**
 * The OpenCode permission guarding a tool named as a profile or a policy
 * may name it (see `AGENT_TOOLS`): the file-changing tools share `edit`;
 * `mcp__<server>__<tool>` is OpenCode's `<server>_<tool>` and
 * `mcp__<server>` is `<server>_*`; any other name (an OpenCode permission
 * such as `external_directory`, a custom tool) is kept.
 */
export function openCodePermissionOf(name: string): string {
  const mcp = mcpToolRef(name);
  if (mcp) return mcp.tool === undefined ? `${mcp.server}_*` : `${mcp.server}_${mcp.tool}`;
  const id = agentToolOf(name)?.opencode;
  if (id === undefined) return name;
  return OPENCODE_EDIT_TOOLS.includes(id) ? "edit" : id;
}

/**
 * OpenCode's `permission` config for a permission policy and, when the
 * profile lists its tools, that list (names as in `AGENT_TOOLS`).
 *
 * Without a list: `bypass` allows everything (the sandbox is the boundary);
 * `ask` without tools asks for everything; `ask` with tools asks for theirs
 * and allows the rest. With a list, everything is denied (`*`: the model is
 * not offered it) but the listed tools and the permissions that guard no
 * tool (`external_directory`, `doom_loop`), which are allowed or asked for
 * as the policy says.
 */
export function openCodePermissionConfig(
  policy: PermissionPolicy,
  allowedTools?: readonly string[],
): OpenCodePermissionConfig {
  const asked =
    policy.mode === "ask" && policy.tools !== undefined
      ? new Set(policy.tools.map(openCodePermissionOf))
      : undefined;
  const actionOf = (permission: string): "allow" | "ask" =>
    policy.mode === "bypass" || (asked !== undefined && !asked.has(permission)) ? "allow" : "ask";
  if (allowedTools === undefined) {
    if (policy.mode === "bypass") return "allow";
    if (asked === undefined) return { "*": "ask" };
    return { "*": "allow", ...Object.fromEntries([...asked].map((permission) => [permission, "ask"])) };
  }
  const rules: Record<string, OpenCodePermissionAction> = { "*": "deny" };
  for (const permission of NON_TOOL_PERMISSIONS) rules[permission] = actionOf(permission);
  for (const tool of allowedTools) {
    const permission = openCodePermissionOf(tool);
    rules[permission] = actionOf(permission);
  }
  // A tool the policy asks for that is allowed through its MCP server's wildcard still asks.
  for (const permission of asked ?? []) {
    const covered = Object.keys(rules).some(
      (rule) => rule !== "*" && rule.endsWith("*") && permission.startsWith(rule.slice(0, -1)),
    );
    if (covered && !(permission in rules)) rules[permission] = "ask";
  }
  return rules;
}
