import { AGENT_TOOLS } from "@agent-runtime/protocol";
import {
  BUILTIN_TOOL_NAMES,
  type HookCallback,
  LEGACY_TOOL_NAME_ALIASES,
} from "@anthropic-ai/claude-agent-sdk";
import { describe, expect, it } from "vitest";
import { claudeToolRestriction } from "./tool-restriction.js";

async function decision(hook: HookCallback, toolName: string): Promise<unknown> {
  const input = {
    hook_event_name: "PreToolUse",
    tool_name: toolName,
    tool_input: {},
    tool_use_id: "toolu_1",
    session_id: "s",
    transcript_path: "/t",
    cwd: "/workspace",
  } as unknown as Parameters<HookCallback>[0];
  const output = (await hook(input, "toolu_1", { signal: new AbortController().signal })) as {
    hookSpecificOutput?: { permissionDecision?: string };
  };
  return output.hookSpecificOutput?.permissionDecision ?? "none";
}

describe("Claude Code tool restriction", () => {
  it("changes nothing when the profile does not list its tools", () => {
    expect(claudeToolRestriction(undefined, ["docs"])).toEqual({ options: {}, env: {} });
  });

  it("offers the listed built-in tools only, hides unlisted MCP servers and refuses every other call", async () => {
    const { options, env } = claudeToolRestriction(
      ["Read", "Bash", "mcp__docs__search", "mcp__wiki"],
      ["docs", "wiki", "other"],
    );
    expect(options.tools).toEqual(["Read", "Bash"]);
    expect(options.disallowedTools).toEqual(["mcp__other"]);
    expect(options.strictMcpConfig).toBe(true);
    expect(env).toEqual({ ENABLE_TOOL_SEARCH: "false" });
    const hook = options.hooks?.PreToolUse?.[0]?.hooks[0] as HookCallback;
    expect(await decision(hook, "Read")).toBe("none");
    expect(await decision(hook, "mcp__docs__search")).toBe("none");
    expect(await decision(hook, "mcp__wiki__anything")).toBe("none");
    expect(await decision(hook, "Write")).toBe("deny");
    expect(await decision(hook, "mcp__docs__delete")).toBe("deny");
    expect(await decision(hook, "mcp__other__x")).toBe("deny");
  });

  it("knows every Claude Code name of the tool table (the installed SDK's built-in tools and former names)", () => {
    const builtIn = new Set<string>(BUILTIN_TOOL_NAMES);
    for (const tool of AGENT_TOOLS) {
      if (tool.claude) expect(builtIn.has(tool.claude), tool.claude).toBe(true);
      for (const alias of tool.claudeAliases ?? []) expect(LEGACY_TOOL_NAME_ALIASES[alias]).toBe(tool.claude);
    }
  });
});
