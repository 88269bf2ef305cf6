import { type AgentProfileInput, agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { RuntimeError } from "../../errors.js";
import { materializeClaudeProfile } from "./materialize.js";

const dirs = { workspaceDir: "/workspace", homeDir: "/home/agent" };
const materialize = (profile: Omit<AgentProfileInput, "id" | "name">, sessionOptions = {}) =>
  materializeClaudeProfile({
    ...dirs,
    sessionOptions,
    profile: agentProfileSchema.parse({ id: "p", name: "P", ...profile }),
  });

function frontMatter(content: string): { data: Record<string, unknown>; body: string } {
  const match = /^---\n([\s\S]*?)---\n\n([\s\S]*)$/.exec(content);
  if (!match) throw new Error(`no front matter in ${content}`);
  return { data: parse(match[1]!) as Record<string, unknown>, body: match[2]! };
}

describe("materializeClaudeProfile", () => {
  it("writes memory file, skills, subagents (tools in Claude Code's names), commands, MCP config, settings and default files", () => {
    const files = materialize(
      {
        agentMDFile: "# Rules\nBe kind.",
        tools: ["Read", "Write", "Bash"],
        model: "claude-x",
        skills: [
          {
            name: "pdf",
            description: "Work with PDFs: extract: text",
            content: "Use the script.",
            files: [{ path: "scripts/extract.py", content: "print(1)" }],
          },
        ],
        subagents: [
          {
            name: "tester",
            description: "Runs tests",
            prompt: "You test.",
            tools: ["bash", "Read"],
            model: "haiku",
          },
        ],
        commands: [{ name: "review", description: "Review code", prompt: "Review $ARGUMENTS" }],
        mcpServers: { docs: { type: "http", url: "https://docs.example.com/mcp" } },
        defaultFiles: [{ path: "src/app.ts", content: "export {};" }],
      },
      { model: "claude-session" },
    );
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect([...byPath.keys()].sort()).toEqual([
      "/workspace/.claude/agents/tester.md",
      "/workspace/.claude/commands/review.md",
      "/workspace/.claude/settings.json",
      "/workspace/.claude/skills/pdf/SKILL.md",
      "/workspace/.claude/skills/pdf/scripts/extract.py",
      "/workspace/.mcp.json",
      "/workspace/CLAUDE.md",
      "/workspace/src/app.ts",
    ]);
    expect(byPath.get("/workspace/CLAUDE.md")!.content).toBe("# Rules\nBe kind.");
    const skill = frontMatter(byPath.get("/workspace/.claude/skills/pdf/SKILL.md")!.content as string);
    expect(skill).toEqual({
      data: { name: "pdf", description: "Work with PDFs: extract: text" },
      body: "Use the script.\n",
    });
    const agent = frontMatter(byPath.get("/workspace/.claude/agents/tester.md")!.content as string);
    expect(agent).toEqual({
      data: { name: "tester", description: "Runs tests", tools: "Bash, Read", model: "haiku" },
      body: "You test.\n",
    });
    const command = frontMatter(byPath.get("/workspace/.claude/commands/review.md")!.content as string);
    expect(command).toEqual({ data: { description: "Review code" }, body: "Review $ARGUMENTS\n" });
    expect(JSON.parse(byPath.get("/workspace/.mcp.json")!.content as string)).toEqual({
      mcpServers: { docs: { type: "http", url: "https://docs.example.com/mcp", headers: {} } },
    });
    const settings = byPath.get("/workspace/.claude/settings.json")!;
    expect(settings.readOnly).toBe(true);
    // The profile's tools are no allow rules: those would skip the permission policy's questions.
    const parsed = JSON.parse(settings.content as string);
    expect(parsed).toMatchObject({ model: "claude-session" });
    expect(parsed.permissions).toBeUndefined();
    expect(files.filter((f) => f.readOnly)).toHaveLength(1);
  });

  it("writes only settings for an empty profile", () => {
    expect(materialize({}).map((f) => f.path)).toEqual(["/workspace/.claude/settings.json"]);
  });

  it("keeps a backslash as part of a default file's name (a Linux name, not a separator)", () => {
    expect(materialize({ defaultFiles: [{ path: "a\\..\\b", content: "x" }] }).map((f) => f.path)).toContain(
      "/workspace/a\\..\\b",
    );
  });

  it.each(["../escape.txt", "a/../../escape.txt", "/etc/passwd", "..", "nul\0byte", "./"])(
    "rejects the hostile default file path %j",
    (path) => {
      expect(() => materialize({ defaultFiles: [{ path, content: "x" }] })).toThrow(RuntimeError);
      try {
        materialize({ defaultFiles: [{ path, content: "x" }] });
      } catch (error) {
        expect((error as RuntimeError).code).toBe("INVALID_PATH");
      }
    },
  );

  it("rejects hostile skill file paths and keeps normalised ones inside the skill folder", () => {
    const skill = (path: string) => ({
      name: "s",
      description: "d",
      content: "c",
      files: [{ path, content: "x" }],
    });
    expect(() => materialize({ skills: [skill("../../settings.json")] })).toThrow(/leaves its folder/);
    expect(() => materialize({ skills: [skill("SKILL.md")] })).toThrow(RuntimeError);
    expect(materialize({ skills: [skill("./a//b.txt")] }).map((f) => f.path)).toContain(
      "/workspace/.claude/skills/s/a/b.txt",
    );
  });
});
