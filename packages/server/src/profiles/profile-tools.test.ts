import { type AgentProfileInput, agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { assertProfileToolsOn, profileToolsOn, subagentToolsOn } from "./profile-tools.js";

const SOURCE = 'agent profile "p"';
const profile = (fields: Partial<AgentProfileInput>) =>
  agentProfileSchema.parse({ id: "p", name: "P", ...fields });

describe("a profile's tools on each agent", () => {
  it("are named as the agent names them, with the tools the profile's skills and subagents need", () => {
    const p = profile({
      tools: ["read", "Bash", "Task", "mcp__docs"],
      skills: [{ name: "s", description: "d", content: "c" }],
      subagents: [{ name: "a", description: "d", prompt: "p", tools: ["Read"] }],
      mcpServers: { docs: { type: "stdio", command: "docs" } },
    });
    expect(profileToolsOn(p, "claude-agent-sdk", SOURCE)).toEqual([
      "Read",
      "Bash",
      "Agent",
      "mcp__docs",
      "Skill",
    ]);
    expect(profileToolsOn(p, "opencode", SOURCE)).toEqual(["read", "bash", "task", "mcp__docs", "skill"]);
    expect(subagentToolsOn(p, 0, "opencode", SOURCE)).toEqual(["read"]);
  });

  it("are the agent's defaults when the profile lists none", () => {
    const p = profile({ subagents: [{ name: "a", description: "d", prompt: "p" }] });
    expect(profileToolsOn(p, "claude-agent-sdk", SOURCE)).toBeUndefined();
    expect(subagentToolsOn(p, 0, "claude-agent-sdk", SOURCE)).toBeUndefined();
  });

  it("map onto Codex's and Gemini CLI's counterparts, leaving out the tools of parts they are not given", () => {
    const p = profile({
      tools: ["Read", "Write", "Edit", "Glob", "Grep", "Bash", "Task", "TodoWrite", "mcp__docs"],
      skills: [{ name: "s", description: "d", content: "c" }],
      subagents: [{ name: "a", description: "d", prompt: "p", tools: ["Read"] }],
      mcpServers: { docs: { type: "stdio", command: "docs" } },
    });
    expect(profileToolsOn(p, "codex", SOURCE)).toEqual([
      "exec_command",
      "apply_patch",
      "update_plan",
      "mcp__docs",
    ]);
    expect(profileToolsOn(p, "gemini", SOURCE)).toEqual([
      "read_file",
      "write_file",
      "replace",
      "glob",
      "grep_search",
      "run_shell_command",
      "write_todos",
      "mcp__docs",
      "activate_skill",
    ]);
    // A generic ACP agent's tools are its own: nothing to map, nothing refused.
    expect(profileToolsOn(profile({ tools: ["NotebookEdit"] }), "acp", SOURCE)).toBeUndefined();
    expect(() => assertProfileToolsOn(profile({ tools: ["NotebookEdit"] }), "acp", SOURCE)).not.toThrow();
  });

  it.each<[string, Partial<AgentProfileInput>, "claude-agent-sdk" | "opencode" | "codex" | "gemini", string]>(
    [
      [
        "a tool Codex has no counterpart of, naming Codex's tools and what each is there",
        { tools: ["Read", "NotebookEdit"] },
        "codex",
        'tools: "NotebookEdit" has no counterpart on codex, which could not offer it; its tools: Read (exec_command), Write (apply_patch), Edit (apply_patch), Bash (exec_command), Glob (exec_command), Grep (exec_command), WebFetch (web_search), WebSearch (web_search), TodoWrite (update_plan), AskUserQuestion (request_user_input), apply_patch, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
      ],
      [
        "a tool Gemini CLI has no counterpart of",
        { tools: ["LSP"] },
        "gemini",
        'tools: "LSP" has no counterpart on gemini, which could not offer it; its tools: Read (read_file), Write (write_file), Edit (replace), Bash (run_shell_command), Glob (glob), Grep (grep_search), WebFetch (web_fetch), WebSearch (google_web_search), TodoWrite (write_todos), Skill (activate_skill), AskUserQuestion (ask_user), and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
      ],
      [
        "a Claude Code tool on OpenCode",
        { tools: ["Read", "NotebookEdit"] },
        "opencode",
        'tools: "NotebookEdit" has no counterpart on opencode, which could not offer it; its tools: Read (read), Write (write), Edit (edit), Bash (bash), Glob (glob), Grep (grep), WebFetch (webfetch), WebSearch (websearch), Agent (task), TodoWrite (todowrite), Skill (skill), AskUserQuestion (question), LSP (lsp), apply_patch, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
      ],
      [
        "an OpenCode tool on Claude Code",
        { tools: ["read", "apply_patch"] },
        "claude-agent-sdk",
        'tools: "apply_patch" has no counterpart on claude-agent-sdk, which could not offer it; its tools: Read, Write, Edit, Bash, Glob, Grep, WebFetch, WebSearch, Agent, TodoWrite, Skill, AskUserQuestion, LSP, NotebookEdit, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
      ],
      [
        "a subagent's tool on an agent that lacks it",
        { subagents: [{ name: "a", description: "d", prompt: "p", tools: ["NotebookEdit"] }] },
        "opencode",
        'subagents.0.tools: "NotebookEdit" has no counterpart on opencode, which could not offer it; its tools: Read (read), Write (write), Edit (edit), Bash (bash), Glob (glob), Grep (grep), WebFetch (webfetch), WebSearch (websearch), Agent (task), TodoWrite (todowrite), Skill (skill), AskUserQuestion (question), LSP (lsp), apply_patch, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
      ],
      [
        "Write without Edit on OpenCode, which offers them together",
        { tools: ["Read", "Write"] },
        "opencode",
        "tools: opencode offers its file-changing tools (write, edit, apply_patch) together; list both Write and Edit, or none of them",
      ],
    ],
  )("refuse %s", (_label, fields, architecture, message) => {
    expect(() => assertProfileToolsOn(profile(fields), architecture, SOURCE)).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED", message: `${SOURCE}: ${message}` }),
    );
  });

  it("accept what both agents have", () => {
    const p = profile({
      tools: ["Read", "Write", "Edit", "Bash", "Glob", "Grep", "WebFetch", "TodoWrite", "Task"],
    });
    for (const architecture of ["claude-agent-sdk", "opencode"] as const) {
      expect(() => assertProfileToolsOn(p, architecture, SOURCE)).not.toThrow();
    }
    expect(() =>
      assertProfileToolsOn(profile({ tools: ["Write", "Edit", "apply_patch"] }), "opencode", SOURCE),
    ).not.toThrow();
  });
});
