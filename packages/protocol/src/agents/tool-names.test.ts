import { describe, expect, it } from "vitest";
import {
  AGENT_TOOLS,
  agentToolOf,
  builtInToolNames,
  mcpToolRef,
  toolNameOn,
  toolVocabularyOn,
} from "./tool-names.js";

describe("agent tool names", () => {
  it("maps either spelling, and Claude Code's former names, onto one tool", () => {
    expect(agentToolOf("Read")).toBe(agentToolOf("read"));
    expect(agentToolOf("Task")).toBe(agentToolOf("Agent"));
    expect(agentToolOf("task")).toBe(agentToolOf("Agent"));
    expect(agentToolOf("AskUserQuestion")?.opencode).toBe("question");
    expect(agentToolOf("READ")).toBeUndefined();
    expect(agentToolOf("Bash(npm test:*)")).toBeUndefined();
  });

  it("names each tool as each agent does, or not at all where it has none", () => {
    expect(toolNameOn("claude-agent-sdk", "bash")).toBe("Bash");
    expect(toolNameOn("opencode", "Bash")).toBe("bash");
    expect(toolNameOn("claude-agent-sdk", "Task")).toBe("Agent");
    expect(toolNameOn("opencode", "NotebookEdit")).toBeUndefined();
    expect(toolNameOn("claude-agent-sdk", "apply_patch")).toBeUndefined();
    expect(toolNameOn("opencode", "mcp__docs__search")).toBe("mcp__docs__search");
    expect(toolNameOn("opencode", "Nope")).toBeUndefined();
  });

  it("maps each tool onto its counterpart on Codex and Gemini CLI, left out where it serves a part they do not take", () => {
    expect(toolNameOn("codex", "Read")).toBe("exec_command");
    expect(toolNameOn("codex", "Bash")).toBe("exec_command");
    expect(toolNameOn("codex", "Edit")).toBe("apply_patch");
    expect(toolNameOn("gemini", "Edit")).toBe("replace");
    expect(toolNameOn("gemini", "bash")).toBe("run_shell_command");
    expect(toolNameOn("gemini", "WebFetch")).toBe("web_fetch");
    expect(toolNameOn("codex", "Task")).toBeNull();
    expect(toolNameOn("gemini", "Skill")).toBe("activate_skill");
    expect(toolNameOn("gemini", "Agent")).toBeNull();
    expect(toolNameOn("codex", "NotebookEdit")).toBeUndefined();
    expect(toolNameOn("gemini", "LSP")).toBeUndefined();
    expect(toolNameOn("acp", "Read")).toBeUndefined();
    expect(builtInToolNames("codex")).toEqual([
      "exec_command",
      "apply_patch",
      "web_search",
      "update_plan",
      "request_user_input",
    ]);
    expect(toolVocabularyOn("codex")).toContain("Read (exec_command)");
    expect(toolVocabularyOn("claude-agent-sdk")).toContain("Read");
    expect(toolVocabularyOn("opencode")).toContain("apply_patch");
  });

  it("parses MCP names for one tool or a whole server", () => {
    expect(mcpToolRef("mcp__docs")).toEqual({ server: "docs" });
    expect(mcpToolRef("mcp__docs__search")).toEqual({ server: "docs", tool: "search" });
    expect(mcpToolRef("mcp__docs__search__deep")).toEqual({ server: "docs", tool: "search__deep" });
    expect(mcpToolRef("docs_search")).toBeUndefined();
  });

  it("has no name twice", () => {
    const names = AGENT_TOOLS.flatMap((t) => [t.claude, t.opencode, ...(t.claudeAliases ?? [])]).filter(
      Boolean,
    );
    expect(new Set(names).size).toBe(names.length);
    expect(builtInToolNames("claude-agent-sdk")).toContain("NotebookEdit");
    expect(builtInToolNames("opencode")).toContain("apply_patch");
  });
});
