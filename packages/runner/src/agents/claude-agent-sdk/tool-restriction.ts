import { mcpToolRef } from "@agent-runtime/protocol";
import type { HookCallback, Options } from "@anthropic-ai/claude-agent-sdk";

/** What restricts Claude Code to a profile's tools: query options, and environment over the runner's. */
export interface ClaudeToolRestriction {
  readonly options: Partial<Options>;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Gives Claude Code exactly `allowedTools` (Claude Code's names; MCP tools
 * as `mcp__<server>` or `mcp__<server>__<tool>`), for the session and its
 * subagents:
 * - `tools`: the listed built-in tools and no other is offered;
 * - `disallowedTools`: the servers of `mcpServers` with no listed tool are not offered;
 * - `strictMcpConfig`: no MCP server but the runner's (e.g. none from a
 *   `.mcp.json` the agent writes);
 * - a `PreToolUse` hook refuses every call of anything else, whatever the
 *   permission mode. Claude Code offers a server's tools together, so the
 *   unlisted tools of a server with a listed one stay offered, and are refused;
 * - `ENABLE_TOOL_SEARCH=false`: tools are not deferred behind tool search,
 *   which would add a placeholder tool to every request.
 * Nothing when `allowedTools` is undefined: the agent's defaults.
 */
export function claudeToolRestriction(
  allowedTools: readonly string[] | undefined,
  mcpServers: readonly string[],
): ClaudeToolRestriction {
  if (allowedTools === undefined) return { options: {}, env: {} };
  const allowed = new Set(allowedTools);
  const listedServers = new Set(allowedTools.flatMap((name) => mcpToolRef(name)?.server ?? []));
  const isAllowed = (name: string) => {
    const server = mcpToolRef(name)?.server;
    return allowed.has(name) || (server !== undefined && allowed.has(`mcp__${server}`));
  };
  const refuseUnlisted: HookCallback = async (input) => {
    if (input.hook_event_name !== "PreToolUse" || isAllowed(input.tool_name)) return {};
    return {
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        permissionDecision: "deny",
        permissionDecisionReason: `${input.tool_name} is not one of this agent's tools`,
      },
    };
  };
  return {
    options: {
      tools: allowedTools.filter((name) => mcpToolRef(name) === undefined),
      disallowedTools: mcpServers
        .filter((server) => !listedServers.has(server))
        .map((server) => `mcp__${server}`),
      strictMcpConfig: true,
      hooks: { PreToolUse: [{ hooks: [refuseUnlisted] }] },
    },
    env: { ENABLE_TOOL_SEARCH: "false" },
  };
}
