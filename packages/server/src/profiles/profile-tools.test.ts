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

  it.each<[string, Partial<AgentProfileInput>, "claude-agent-sdk" | "opencode", string]>([
    [
      "a Claude Code tool on OpenCode",
      { tools: ["Read", "NotebookEdit"] },
      "opencode",
      'tools: "NotebookEdit" is not a tool of opencode; its tools: read, write, edit, bash, glob, grep, webfetch, websearch, task, todowrite, skill, question, lsp, apply_patch, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
    ],
    [
      "an OpenCode tool on Claude Code",
      { tools: ["read", "apply_patch"] },
      "claude-agent-sdk",
      'tools: "apply_patch" is not a tool of claude-agent-sdk; its tools: Read, Write, Edit, Bash, Glob, Grep, WebFetch, WebSearch, Agent, TodoWrite, Skill, AskUserQuestion, LSP, NotebookEdit, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
    ],
    [
      "a subagent's tool on an agent that lacks it",
      { subagents: [{ name: "a", description: "d", prompt: "p", tools: ["NotebookEdit"] }] },
      "opencode",
      'subagents.0.tools: "NotebookEdit" is not a tool of opencode; its tools: read, write, edit, bash, glob, grep, webfetch, websearch, task, todowrite, skill, question, lsp, apply_patch, and MCP tools as mcp__<server> or mcp__<server>__<tool> of a server in mcpServers',
    ],
    [
      "Write without Edit on OpenCode, which offers them together",
      { tools: ["Read", "Write"] },
      "opencode",
      "tools: opencode offers its file-changing tools (write, edit, apply_patch) together; list both Write and Edit, or none of them",
    ],
  ])("refuse %s", (_label, fields, architecture, message) => {
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
