import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadProfilesFromFolder } from "./load-profiles-from-folder.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "agent-runtime-profiles-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

async function loadError(): Promise<{ code: string; message: string }> {
  return loadProfilesFromFolder(root).then(
    () => {
      throw new Error("expected loadProfilesFromFolder to reject");
    },
    (error: { code: string; message: string }) => error,
  );
}

describe("loadProfilesFromFolder", () => {
  it("assembles a profile from every kind of file", async () => {
    await write({
      "full/profile.json": JSON.stringify({ name: "Full", model: "claude-test", env: { A: "1" } }),
      "full/AGENTS.md": "# Agents memory\n",
      "full/system-prompt.md": "Be brief.",
      "full/skills/review/SKILL.md": "---\nname: review\ndescription: Reviews code\n---\n\nReview it.\n",
      "full/skills/review/checklist.md": "- tests",
      "full/skills/review/templates/report.md": "# Report",
      "full/agents/tester.md":
        "---\ndescription: Writes tests\ntools: Read, Bash\nmodel: haiku\n---\nWrite tests.\n",
      "full/agents/planner.md": "---\ndescription: Plans\ntools: [Read]\n---\nPlan.",
      "full/commands/explain.md": "---\ndescription: Explains\n---\nExplain $ARGUMENTS",
      "full/commands/plain.md": "No front matter: $ARGUMENTS",
      "full/commands/notes.txt": "ignored: not markdown",
      "full/files/README.md": "# Workspace",
      "full/files/src/.gitignore": "node_modules\n",
      "full/files/src/a.ts": "export {};\n",
      "README.md": "top-level files are not profiles",
      ".hidden/profile.json": "not loaded",
    });

    const [profile, ...others] = await loadProfilesFromFolder(root);
    expect(others).toEqual([]);
    expect(profile).toEqual({
      id: "full",
      name: "Full",
      model: "claude-test",
      env: { A: "1" },
      agentMDFile: "# Agents memory\n",
      systemPrompt: "Be brief.",
      skills: [
        {
          name: "review",
          description: "Reviews code",
          content: "Review it.\n",
          files: [
            { path: "checklist.md", content: "- tests" },
            { path: "templates/report.md", content: "# Report" },
          ],
        },
      ],
      subagents: [
        { name: "planner", description: "Plans", prompt: "Plan.", tools: ["Read"] },
        {
          name: "tester",
          description: "Writes tests",
          prompt: "Write tests.\n",
          tools: ["Read", "Bash"],
          model: "haiku",
        },
      ],
      commands: [
        { name: "explain", description: "Explains", prompt: "Explain $ARGUMENTS" },
        { name: "plain", prompt: "No front matter: $ARGUMENTS" },
      ],
      mcpServers: {},
      dependencies: { npm: [], pip: [] },
      network: { allow: [] },
      defaultFiles: [
        { path: "README.md", content: "# Workspace" },
        { path: "src/.gitignore", content: "node_modules\n" },
        { path: "src/a.ts", content: "export {};\n" },
      ],
    });
  });

  it("reads profile.yaml, lets the manifest set the id, and returns profiles in folder order", async () => {
    await write({
      "b-folder/profile.yaml": "id: beta\nname: Beta\ntools:\n  - Read\n",
      "a-folder/profile.json": '{"name": "Alpha", "commands": [{"name": "hi", "prompt": "Say hi"}]}',
      "a-folder/commands/bye.md": "Say bye",
    });
    const profiles = await loadProfilesFromFolder(root);
    expect(profiles.map((profile) => [profile.id, profile.name])).toEqual([
      ["a-folder", "Alpha"],
      ["beta", "Beta"],
    ]);
    expect(profiles[0]?.commands.map((command) => command.name)).toEqual(["hi", "bye"]);
    expect(profiles[1]?.tools).toEqual(["Read"]);
  });

  it("accepts the original system's field names in the manifest, with one warning each", async () => {
    await write({
      "p/profile.json": JSON.stringify({
        name: "P",
        environmentVariables: { A: "1" },
        npmDependencies: ["lodash"],
        skills: [{ name: "inline", description: "d", skillMd: "Do it.", supportingFiles: [] }],
      }),
      "p/skills/filed/SKILL.md": "---\ndescription: d\n---\nFrom a file.",
      "p/files/a.md": "A",
    });
    const warnings: string[] = [];
    const [profile] = await loadProfilesFromFolder(root, {
      logger: { warn: (_f, message) => warnings.push(message) },
    });
    expect(profile).toMatchObject({
      env: { A: "1" },
      dependencies: { npm: ["lodash"], pip: [] },
      skills: [
        { name: "inline", content: "Do it.", files: [] },
        { name: "filed", content: "From a file." },
      ],
      defaultFiles: [{ path: "a.md", content: "A" }],
    });
    const manifest = join(root, "p/profile.json");
    expect(warnings).toEqual([
      `${manifest}: "environmentVariables" is deprecated (the original system's name); use "env" (see docs/profiles/migrating.md)`,
      `${manifest}: "npmDependencies" is deprecated (the original system's name); use "dependencies.npm" (see docs/profiles/migrating.md)`,
      `${manifest}: "skills[].skillMd" is deprecated (the original system's name); use "skills[].content" (see docs/profiles/migrating.md)`,
      `${manifest}: "skills[].supportingFiles" is deprecated (the original system's name); use "skills[].files" (see docs/profiles/migrating.md)`,
    ]);
  });

  it("reads a bundled MCP project from mcp/<name>/, without what installs make", async () => {
    await write({
      "p/profile.json": JSON.stringify({
        name: "P",
        mcpServers: { weather: { type: "bundled", command: "node", args: ["server.js"] } },
      }),
      "p/mcp/weather/package.json": "{}",
      "p/mcp/weather/server.js": "// server",
      "p/mcp/weather/lib/util.js": "// util",
      "p/mcp/weather/node_modules/dep/index.js": "// installed",
      "p/mcp/weather/.git/HEAD": "ref",
    });
    const [profile] = await loadProfilesFromFolder(root);
    expect(profile?.mcpServers.weather).toEqual({
      type: "bundled",
      command: "node",
      args: ["server.js"],
      env: {},
      files: [
        { path: "lib/util.js", content: "// util" },
        { path: "package.json", content: "{}" },
        { path: "server.js", content: "// server" },
      ],
    });
  });

  it("refuses an mcp/<name>/ folder the manifest does not declare as a bundled server", async () => {
    await write({ "p/profile.json": JSON.stringify({ name: "P" }), "p/mcp/weather/server.js": "" });
    const error = await loadError();
    expect(error.message).toBe(
      `${join(root, "p/profile.json")}: mcp/weather/ is a bundled MCP project, but mcpServers.weather is not declared with "type": "bundled" (and its "command")`,
    );
  });

  it("reads the original system's bundledMCPs from their localProjectPath, inside the profile folder only", async () => {
    await write({
      "p/profile.json": JSON.stringify({
        name: "P",
        bundledMCPs: [
          { name: "db", localProjectPath: "./mcps/db", startCommand: "node .", installCommand: "npm i" },
        ],
      }),
      "p/mcps/db/index.js": "// db",
    });
    const [profile] = await loadProfilesFromFolder(root, { logger: { warn: () => undefined } });
    expect(profile?.mcpServers.db).toEqual({
      type: "bundled",
      files: [{ path: "index.js", content: "// db" }],
      install: ["/bin/sh", "-c", "npm i"],
      command: "/bin/sh",
      args: ["-c", "node ."],
      env: {},
    });

    await write({
      "p/profile.json": JSON.stringify({
        name: "P",
        bundledMCPs: [{ name: "db", localProjectPath: "../elsewhere", startCommand: "node ." }],
      }),
    });
    expect((await loadError()).message).toBe(
      `${join(root, "p/profile.json")}: bundledMCPs.0.localProjectPath: must be a folder inside the profile folder`,
    );
  });

  it("loads the example profiles shipped in /profiles", async () => {
    const shipped = fileURLToPath(new URL("../../../../profiles", import.meta.url));
    const profiles = await loadProfilesFromFolder(shipped);
    expect(profiles.map((profile) => profile.id)).toEqual(["assistant", "coder"]);
    const [assistant, coder] = profiles;
    expect(assistant?.agentMDFile).toContain("helpful");
    expect(coder?.agentMDFile).toBeTruthy();
    expect(coder?.systemPrompt).toBeTruthy();
    expect(coder?.skills.map((skill) => [skill.name, skill.files.map((file) => file.path)])).toEqual([
      ["code-review", ["checklist.md"]],
    ]);
    expect(coder?.skills[0]?.description).toBeTruthy();
    expect(coder?.subagents.map((agent) => agent.name)).toEqual(["test-writer"]);
    expect(coder?.subagents[0]?.tools).toContain("Bash");
    expect(coder?.commands.map((command) => command.name)).toEqual(["explain"]);
    expect(coder?.commands[0]?.prompt).toContain("$ARGUMENTS");
    expect(coder?.defaultFiles.map((file) => file.path)).toEqual(["CONVENTIONS.md"]);
  });

  describe("errors name the file and the field", () => {
    it("wrong field type in profile.json", async () => {
      await write({ "coder/profile.json": JSON.stringify({ name: 42 }) });
      const error = await loadError();
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.message).toMatch(
        new RegExp(`^${escapeRegExp(join(root, "coder/profile.json"))}: name: .*expected string`),
      );
    });

    it("nested field in profile.yaml", async () => {
      await write({ "p/profile.yaml": "name: P\nmcpServers:\n  web:\n    type: http\n    url: not a url\n" });
      expect((await loadError()).message).toMatch(/p[/\\]profile\.yaml: mcpServers\.web\.url: /);
    });

    it("invalid JSON and YAML", async () => {
      await write({ "p/profile.json": "{ name: " });
      expect((await loadError()).message).toMatch(/p[/\\]profile\.json: invalid JSON: /);
      await rm(join(root, "p"), { recursive: true });
      await write({ "q/profile.yaml": "name: [unclosed" });
      expect((await loadError()).message).toMatch(/q[/\\]profile\.yaml: invalid YAML: /);
    });

    it("missing, duplicate and conflicting manifests", async () => {
      await write({ "empty/CLAUDE.md": "x" });
      expect((await loadError()).message).toBe(
        `${join(root, "empty")}: missing profile.json (or profile.yaml)`,
      );
      await write({ "empty/profile.json": '{"name":"E"}', "empty/profile.yaml": "name: E" });
      expect((await loadError()).message).toMatch(/has both profile\.json and profile\.yaml/);
    });

    it("skill without a description, with a bad name, or without SKILL.md", async () => {
      await write({ "p/profile.json": '{"name":"P"}', "p/skills/s/SKILL.md": "---\nname: s\n---\nBody" });
      expect((await loadError()).message).toMatch(
        /p[/\\]skills[/\\]s[/\\]SKILL\.md: description: .*expected string/,
      );

      await rm(join(root, "p/skills"), { recursive: true });
      await write({ "p/skills/bad name/SKILL.md": "---\ndescription: d\n---\nBody" });
      expect((await loadError()).message).toMatch(/SKILL\.md: name: letters, digits/);

      await rm(join(root, "p/skills"), { recursive: true });
      await write({ "p/skills/s/SKILL.md": "---\nname: other\ndescription: d\n---\n" });
      expect((await loadError()).message).toMatch(
        /SKILL\.md: name: "other" differs from the folder name "s"/,
      );

      await rm(join(root, "p/skills"), { recursive: true });
      await write({ "p/skills/s/notes.md": "no SKILL.md" });
      expect((await loadError()).message).toBe(`${join(root, "p/skills/s/SKILL.md")}: missing`);
    });

    it("subagent and command problems", async () => {
      await write({
        "p/profile.json": '{"name":"P"}',
        "p/agents/a.md": "---\ndescription: d\ntools: 5\n---\nx",
      });
      expect((await loadError()).message).toMatch(/p[/\\]agents[/\\]a\.md: tools: /);
      await rm(join(root, "p/agents"), { recursive: true });
      await write({ "p/commands/c.md": "---\ndescription: [1, 2]\n---\nx" });
      expect((await loadError()).message).toMatch(/p[/\\]commands[/\\]c\.md: description: /);
      await rm(join(root, "p/commands"), { recursive: true });
      await write({ "p/commands/c.md": "---\ndescription: x\nbody" });
      expect((await loadError()).message).toMatch(/c\.md: front matter has no closing '---' line/);
    });

    it("unknown fields in the manifest and in front matter", async () => {
      await write({ "p/profile.json": '{"name":"P","systemPromt":"Be brief."}' });
      expect((await loadError()).message).toMatch(
        new RegExp(
          `^${escapeRegExp(join(root, "p/profile.json"))}: unknown field "systemPromt"; known fields: id, name, `,
        ),
      );
      await write({
        "p/profile.json": '{"name":"P"}',
        "p/skills/s/SKILL.md": "---\ndescription: d\nlicense: MIT\n---\nx",
      });
      expect((await loadError()).message).toBe(
        `${join(root, "p/skills/s/SKILL.md")}: unknown front matter field "license"; known fields: name, description`,
      );
      await rm(join(root, "p/skills"), { recursive: true });
      await write({ "p/agents/a.md": "---\ndescription: d\ncolor: red\n---\nx" });
      expect((await loadError()).message).toBe(
        `${join(root, "p/agents/a.md")}: unknown front matter field "color"; known fields: name, description, tools, model`,
      );
      await rm(join(root, "p/agents"), { recursive: true });
      await write({ "p/commands/c.md": "---\ndescription: d\nallowed-tools: Bash\n---\nx" });
      expect((await loadError()).message).toBe(
        `${join(root, "p/commands/c.md")}: unknown front matter field "allowed-tools"; known fields: description`,
      );
    });

    it("tools no agent has, and a subagent's tools beyond the profile's", async () => {
      await write({ "p/profile.yaml": "name: P\ntools: [Read, Bsh]\n" });
      expect((await loadError()).message).toMatch(
        /p[/\\]profile\.yaml: tools: unknown tool "Bsh"; Claude Code's tools: /,
      );
      await write({
        "p/profile.yaml": "name: P\ntools: [Read]\n",
        "p/agents/a.md": "---\ndescription: d\ntools: Read, Bash\n---\nx",
      });
      expect((await loadError()).message).toMatch(
        /p[/\\]profile\.yaml: subagents\.0\.tools: "Bash" is not among the profile's tools/,
      );
    });

    it("a field set both in the manifest and by a file, or two memory files", async () => {
      await write({ "p/profile.json": '{"name":"P","systemPrompt":"a"}', "p/system-prompt.md": "b" });
      expect((await loadError()).message).toMatch(
        /profile\.json: systemPrompt is set here and by .*system-prompt\.md/,
      );
      await write({ "p/profile.json": '{"name":"P"}', "p/CLAUDE.md": "a", "p/AGENTS.md": "b" });
      expect((await loadError()).message).toMatch(/has both CLAUDE\.md and AGENTS\.md/);
    });

    it("duplicate names and ids", async () => {
      await write({
        "p/profile.json": '{"name":"P","commands":[{"name":"c","prompt":"x"}]}',
        "p/commands/c.md": "y",
      });
      expect((await loadError()).message).toMatch(/profile\.json: commands: "c" is defined twice/);
      await rm(join(root, "p"), { recursive: true });
      await write({
        "a/profile.json": '{"id":"same","name":"A"}',
        "b/profile.json": '{"id":"same","name":"B"}',
      });
      expect((await loadError()).message).toMatch(/profile id "same" is used by both a\/ and b\//);
    });

    it("binary files and a missing folder", async () => {
      await write({
        "p/profile.json": '{"name":"P"}',
        "p/files/logo.png": Buffer.from([0x89, 0x50, 0xff, 0xfe]),
      });
      expect((await loadError()).message).toBe(
        `${join(root, "p/files/logo.png")}: not UTF-8 text (binary files are not supported)`,
      );
      await expect(loadProfilesFromFolder(join(root, "nope"))).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: `${join(root, "nope")}: profile folder does not exist`,
      });
    });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
