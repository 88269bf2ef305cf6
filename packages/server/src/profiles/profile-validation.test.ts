import { type AgentProfile, agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import { ProfileRegistry } from "./profile-registry.js";

/**
 * Profiles as applications give them (code, persistence, files): strict,
 * with the original system's field names accepted as deprecated aliases.
 * Each bad profile has the exact error it gets; each alias the exact warning.
 */

const SOURCE = 'agent profile "p"';
const PROFILE_FIELDS = Object.keys(agentProfileSchema.shape).join(", ");
const CLAUDE_TOOLS =
  "Read, Write, Edit, Bash, Glob, Grep, WebFetch, WebSearch, Agent, TodoWrite, Skill, AskUserQuestion, LSP, NotebookEdit";
const OPENCODE_TOOLS =
  "read, write, edit, bash, glob, grep, webfetch, websearch, task, todowrite, skill, question, lsp, apply_patch";
const MCP_NAMES = "mcp__<server> or mcp__<server>__<tool> of a server in mcpServers";
const GUIDE = "see docs/profiles/migrating.md";

async function load(fields: Record<string, unknown>): Promise<{ profile: AgentProfile; warnings: string[] }> {
  const warnings: string[] = [];
  const registry = new ProfileRegistry([], createMemoryPersistenceAdapter(), {
    warn: (_fields, message) => warnings.push(message),
  });
  registry.add({ id: "p", name: "P", ...fields } as Parameters<ProfileRegistry["add"]>[0]);
  return { profile: await registry.get(String(fields.id ?? "p")), warnings };
}

async function loadError(fields: Record<string, unknown>): Promise<{ code: string; message: string }> {
  return load(fields).then(
    () => {
      throw new Error("expected the profile to be refused");
    },
    (error: { code: string; message: string }) => error,
  );
}

const skill = { name: "s", description: "d", content: "c" };
const subagent = { name: "a", description: "d", prompt: "p" };

describe("bad profiles get an error naming the field", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      "a typo of a field",
      { systemPromt: "Be brief." },
      `unknown field "systemPromt"; known fields: ${PROFILE_FIELDS}`,
    ],
    [
      "a typo in a skill",
      { skills: [{ name: "s", descripton: "d", content: "c" }] },
      'skills.0.description: Invalid input: expected string, received undefined; skills.0: unknown field "descripton"; known fields: name, description, content, files',
    ],
    [
      "a field of an MCP server the schema does not have",
      { mcpServers: { x: { type: "stdio", command: "node", cwd: "/" } } },
      'mcpServers.x: unknown field "cwd"; known fields: type, command, args, env',
    ],
    [
      "a typo in dependencies",
      { dependencies: { npm: [], pypi: ["requests"] } },
      'dependencies: unknown field "pypi"; known fields: npm, pip',
    ],
    ["a wrong type", { tools: "Read" }, "tools: Invalid input: expected array, received string"],
    [
      "an unknown tool",
      { tools: ["Read", "Bsh"] },
      `tools: unknown tool "Bsh"; Claude Code's tools: ${CLAUDE_TOOLS}; OpenCode's: ${OPENCODE_TOOLS}; MCP tools: ${MCP_NAMES}`,
    ],
    [
      "a tool pattern",
      { tools: ["Bash(npm test:*)"] },
      `tools: unknown tool "Bash(npm test:*)"; Claude Code's tools: ${CLAUDE_TOOLS}; OpenCode's: ${OPENCODE_TOOLS}; MCP tools: ${MCP_NAMES}`,
    ],
    [
      "an MCP tool of a server the profile does not have",
      { tools: ["mcp__docs__search"] },
      'tools: "mcp__docs__search" names no server of mcpServers (none)',
    ],
    [
      "a subagent's tool the profile does not offer",
      { tools: ["Read"], subagents: [{ ...subagent, tools: ["Read", "Bash"] }] },
      'subagents.0.tools: "Bash" is not among the profile\'s tools',
    ],
    [
      "an alias and its field together",
      { environmentVariables: { A: "1" }, env: { B: "2" } },
      'both "environmentVariables" (deprecated) and "env" are set; keep "env"',
    ],
    [
      "a skill's alias and its field together",
      { skills: [{ ...skill, skillMd: "old" }] },
      'both "skills[].skillMd" (deprecated) and "skills[].content" are set; keep "skills[].content"',
    ],
    [
      "npmDependencies with dependencies.npm",
      { npmDependencies: ["a"], dependencies: { npm: ["b"] } },
      'both "npmDependencies" (deprecated) and "dependencies.npm" are set; keep "dependencies.npm"',
    ],
    [
      "bundledMCPs outside a profile folder (its localProjectPath cannot be read)",
      {
        bundledMCPs: [
          {
            name: "db",
            description: "d",
            localProjectPath: "./mcps/db",
            startCommand: "node .",
            installCommand: "npm i",
          },
        ],
      },
      'bundledMCPs.0: its project files are read from "localProjectPath" only in a profile folder; elsewhere give it as an mcpServers entry with "type": "bundled" and its "files"',
    ],
    [
      "a bundled project without its start command",
      { bundledMCPs: [{ name: "db", files: [] }] },
      "bundledMCPs.0.startCommand: expected the command that starts the server",
    ],
    [
      "a bundled server whose name is not a folder name",
      { mcpServers: { "my db": { type: "bundled", command: "node", files: [] } } },
      "mcpServers.my db: a bundled server's name is its folder's: letters, digits, '.', '_' and '-' only",
    ],
    [
      "a bundled project's file outside its folder",
      { mcpServers: { db: { type: "bundled", command: "node", files: [{ path: "../x.js", content: "" }] } } },
      'mcpServers.db.files: invalid path "../x.js"',
    ],
    [
      "a bundled server without a command",
      { mcpServers: { db: { type: "bundled", files: [] } } },
      "mcpServers.db.command: Invalid input: expected string, received undefined",
    ],
    [
      "a package spec an installer would read as an option",
      { dependencies: { npm: ["--registry=http://elsewhere"] } },
      "dependencies.npm.0: a package spec: no whitespace, not starting with '-'",
    ],
    [
      "externalMCPs that is not a list",
      { externalMCPs: { fs: { command: "npx" } } },
      'externalMCPs: expected a list of servers, each with a "name"',
    ],
    [
      "an external MCP server without a name",
      { externalMCPs: [{ command: "npx" }] },
      'externalMCPs.0: expected a server with a "name"',
    ],
    [
      "an alias with a wrong type is reported under our name",
      { environmentVariables: ["A=1"] },
      "env: Invalid input: expected record, received array",
    ],
  ];

  it.each(cases)("%s", async (_label, fields, message) => {
    const error = await loadError(fields);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toBe(`${SOURCE}: ${message}`);
  });
});

describe("the original system's field names are deprecated aliases", () => {
  const warning = (alias: string, field: string) =>
    `${SOURCE}: "${alias}" is deprecated (the original system's name); use "${field}" (${GUIDE})`;

  it.each<[string, Record<string, unknown>, Partial<AgentProfile>, string[]]>([
    [
      "environmentVariables",
      { environmentVariables: { NODE_ENV: "development" } },
      { env: { NODE_ENV: "development" } },
      [warning("environmentVariables", "env")],
    ],
    [
      "npmDependencies and pipDependencies",
      { npmDependencies: ["lodash"], pipDependencies: ["requests"] },
      { dependencies: { npm: ["lodash"], pip: ["requests"] } },
      [warning("npmDependencies", "dependencies.npm"), warning("pipDependencies", "dependencies.pip")],
    ],
    [
      "defaultWorkspaceFiles, timestamps dropped",
      {
        defaultWorkspaceFiles: [
          { path: "a.md", content: "A", createdAt: "2025-01-01", modifiedAt: "2025-01-02" },
        ],
      },
      { defaultFiles: [{ path: "a.md", content: "A" }] },
      [warning("defaultWorkspaceFiles", "defaultFiles")],
    ],
    [
      "externalMCPs, by name; stdio unless typed",
      {
        externalMCPs: [
          { name: "fs", command: "npx", args: ["-y", "server-filesystem", "/workspace"] },
          { name: "web", type: "http", url: "https://mcp.example.com/mcp" },
        ],
      },
      {
        mcpServers: {
          fs: { type: "stdio", command: "npx", args: ["-y", "server-filesystem", "/workspace"], env: {} },
          web: { type: "http", url: "https://mcp.example.com/mcp", headers: {} },
        },
      },
      [warning("externalMCPs", "mcpServers")],
    ],
    [
      "bundledMCPs with their files, as bundled servers run by sh",
      {
        bundledMCPs: [
          {
            name: "db",
            description: "d",
            startCommand: "node server.js",
            installCommand: "npm install",
            files: [{ path: "server.js", content: "" }],
          },
        ],
      },
      {
        mcpServers: {
          db: {
            type: "bundled",
            files: [{ path: "server.js", content: "" }],
            install: ["/bin/sh", "-c", "npm install"],
            command: "/bin/sh",
            args: ["-c", "node server.js"],
            env: {},
          },
        },
      },
      [warning("bundledMCPs", 'mcpServers (each with "type": "bundled")')],
    ],
    [
      "a skill's skillMd, supportingFiles and dependencies, warned once for all skills",
      {
        npmDependencies: ["zod"],
        skills: [
          {
            name: "a",
            description: "A",
            skillMd: "Do A.",
            supportingFiles: [{ relativePath: "t/x.sh", content: "echo" }],
            npmDependencies: ["zod", "lodash"],
          },
          { name: "b", description: "B", skillMd: "Do B.", pipDependencies: ["requests"] },
        ],
      },
      {
        skills: [
          { name: "a", description: "A", content: "Do A.", files: [{ path: "t/x.sh", content: "echo" }] },
          { name: "b", description: "B", content: "Do B.", files: [] },
        ],
        dependencies: { npm: ["zod", "lodash"], pip: ["requests"] },
      },
      [
        warning("npmDependencies", "dependencies.npm"),
        warning("skills[].skillMd", "skills[].content"),
        warning("skills[].supportingFiles", "skills[].files"),
        warning("skills[].npmDependencies", "dependencies.npm"),
        warning("skills[].pipDependencies", "dependencies.pip"),
      ],
    ],
  ])("%s", async (_label, fields, expected, warnings) => {
    const loaded = await load(fields);
    expect(loaded.profile).toMatchObject(expected);
    expect(loaded.warnings).toEqual(warnings);
  });

  it("loads the original system's documented example profile unchanged (but for bundled MCP projects)", async () => {
    const { profile, warnings } = await load({
      id: "full-stack-dev",
      name: "Full Stack Developer",
      description: "Complete development assistant",
      systemPrompt: "You are a senior full-stack developer.",
      agentMDFile: "# Project Context\n",
      tools: ["Read", "Write", "Edit", "Bash", "Grep", "Glob"],
      skills: [{ name: "testing", description: "Write and run tests", skillMd: "# Testing\nUse Jest." }],
      subagents: [
        {
          name: "reviewer",
          description: "Code review",
          prompt: "Review code.",
          model: "haiku",
          tools: ["Read", "Grep"],
        },
      ],
      commands: [{ name: "implement", prompt: "Plan, implement, test, and review the feature." }],
      externalMCPs: [
        { name: "filesystem", command: "npx", args: ["-y", "mcp-server-filesystem", "/workspace"] },
      ],
      npmDependencies: ["lodash", "zod"],
      environmentVariables: { NODE_ENV: "development" },
    });
    expect(profile).toMatchObject({
      skills: [{ name: "testing", content: "# Testing\nUse Jest." }],
      mcpServers: { filesystem: { type: "stdio", command: "npx" } },
      dependencies: { npm: ["lodash", "zod"], pip: [] },
      env: { NODE_ENV: "development" },
    });
    expect(warnings).toHaveLength(4);
  });
});
