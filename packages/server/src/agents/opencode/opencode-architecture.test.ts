import { agentProfileSchema, runnerConfigSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { testRunnerInput } from "../__fixtures__/runner-input.js";
import { createOpenCodeArchitecture } from "./opencode-architecture.js";

const architecture = createOpenCodeArchitecture();
const profile = agentProfileSchema.parse({
  id: "p",
  name: "P",
  systemPrompt: "Be brief.",
  agentMDFile: "# Rules\n",
  model: "profile-model",
  env: { FOO: "bar", AGENT_RUNTIME_OPENAI_API_KEY: "profile-must-not-win", HOME: "/nope" },
  skills: [
    { name: "greet", description: "Greets", content: "Say hi.", files: [{ path: "ref/a.md", content: "A" }] },
  ],
  subagents: [
    { name: "scout", description: "Looks around", prompt: "Look.", tools: ["Read", "Bash"], model: "small" },
  ],
  commands: [{ name: "hello", description: "Say hello", prompt: "Say hello to $ARGUMENTS" }],
  mcpServers: {
    local: { type: "stdio", command: "node", args: ["srv.js"], env: { A: "1" } },
    remote: { type: "http", url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer x" } },
  },
  defaultFiles: [{ path: "src/index.ts", content: "export {};\n" }],
});
const input = testRunnerInput(profile, "ses_1");

describe("opencode architecture", () => {
  it("declares its capabilities", () => {
    expect(architecture.id).toBe("opencode");
    expect(architecture.capabilities).toEqual({
      thinking: true,
      subagents: true,
      permissions: true,
      nativeResume: true,
      modelProviders: true,
    });
  });

  it("configures the runner with the runtime provider's model, the permission policy and the resume id", () => {
    expect(runnerConfigSchema.parse(architecture.runnerConfig(input))).toMatchObject({
      architecture: "opencode",
      model: "agent-runtime/session-model",
      systemPrompt: "Be brief.",
      permissions: { mode: "ask", tools: ["Bash"] },
      resumeSessionId: "ses_1",
    });
  });

  it("passes the endpoint as an OpenAI base URL and the key only in the environment", () => {
    const env = architecture.runnerEnv(input);
    expect(env).toMatchObject({
      FOO: "bar",
      HOME: "/home/agent",
      AGENT_RUNTIME_OPENAI_BASE_URL: "http://127.0.0.1:9999/v1",
      AGENT_RUNTIME_OPENAI_API_KEY: "sk-endpoint",
      AGENT_RUNTIME_OPENCODE_TRANSCRIPT_DIR: "/home/agent/.local/share/agent-runtime/opencode",
    });
    const files = architecture.materialize(input);
    expect(files.some((f) => String(f.content).includes("sk-endpoint"))).toBe(false);
  });

  it("materialises AGENTS.md, opencode.json, skills, subagents, commands and default files", () => {
    const files = Object.fromEntries(architecture.materialize(input).map((f) => [f.path, String(f.content)]));
    expect(files["/workspace/AGENTS.md"]).toBe("# Rules\n");
    expect(files["/workspace/src/index.ts"]).toBe("export {};\n");
    expect(files["/workspace/.opencode/skills/greet/SKILL.md"]).toContain("name: greet");
    expect(files["/workspace/.opencode/skills/greet/ref/a.md"]).toBe("A");
    expect(files["/workspace/.opencode/agents/scout.md"]).toContain("mode: subagent");
    expect(files["/workspace/.opencode/agents/scout.md"]).toContain("model: agent-runtime/small");
    expect(files["/workspace/.opencode/commands/hello.md"]).toContain("Say hello to $ARGUMENTS");
    const config = JSON.parse(files["/workspace/opencode.json"] as string);
    expect(config.model).toBe("agent-runtime/session-model");
    expect(config.provider["agent-runtime"]).toMatchObject({
      npm: "@ai-sdk/openai-compatible",
      options: {
        baseURL: "{env:AGENT_RUNTIME_OPENAI_BASE_URL}",
        apiKey: "{env:AGENT_RUNTIME_OPENAI_API_KEY}",
      },
    });
    expect(Object.keys(config.provider["agent-runtime"].models).sort()).toEqual(["session-model", "small"]);
    expect(config.mcp).toEqual({
      local: { type: "local", command: ["node", "srv.js"], environment: { A: "1" }, enabled: true },
      remote: {
        type: "remote",
        url: "https://mcp.example.com/mcp",
        headers: { Authorization: "Bearer x" },
        enabled: true,
      },
    });
  });

  it("gives the runner the profile's tools in OpenCode's names, and limits a subagent to its own by permission rules", () => {
    const restricted = agentProfileSchema.parse({
      id: "r",
      name: "R",
      tools: ["Read", "Bash", "Task"],
      subagents: [{ name: "scout", description: "Looks", prompt: "Look.", tools: ["Read"] }],
      permissions: { mode: "ask", tools: ["Bash"] },
    });
    const restrictedInput = testRunnerInput(restricted, "ses_1");
    expect(architecture.runnerConfig(restrictedInput).allowedTools).toEqual(["read", "bash", "task"]);
    const files = Object.fromEntries(
      architecture.materialize(restrictedInput).map((f) => [f.path, String(f.content)]),
    );
    const scout = /^---\n([\s\S]*?)---\n/.exec(files["/workspace/.opencode/agents/scout.md"] ?? "")?.[1];
    expect(parse(scout ?? "")).toMatchObject({
      mode: "subagent",
      permission: { "*": "deny", external_directory: "allow", doom_loop: "allow", read: "allow" },
    });
    expect(JSON.parse(files["/workspace/opencode.json"] as string).tools).toBeUndefined();
    expect(architecture.runnerConfig(input).allowedTools).toBeUndefined();
  });

  it("runs OpenCode's hosted models (`opencode/<model>`) with the API OpenCode knows for each, the key in OpenCode's own variable", () => {
    const hosted: typeof input = {
      ...input,
      sessionOptions: { model: "opencode/claude-sonnet-4-5" },
      modelProviders: ["opencode", "other"],
      providerEndpoints: {
        opencode: { baseUrl: "http://opencode.ai:443/zen/v1", apiKey: "placeholder" },
        other: { baseUrl: "http://other.test:443/v1", apiKey: "placeholder" },
      },
    };
    const files = Object.fromEntries(
      architecture.materialize(hosted).map((f) => [f.path, String(f.content)]),
    );
    const config = JSON.parse(files["/workspace/opencode.json"] as string);
    expect(config.model).toBe("opencode/claude-sonnet-4-5");
    // No package and no capabilities of ours: those OpenCode has for the model stay (Claude models speak Anthropic's API).
    expect(config.provider.opencode).toEqual({
      options: {
        baseURL: "{env:AGENT_RUNTIME_PROVIDER_OPENCODE_BASE_URL}",
        apiKey: "{env:AGENT_RUNTIME_PROVIDER_OPENCODE_API_KEY}",
      },
      models: { "claude-sonnet-4-5": {} },
    });
    // A provider no model names is left out.
    expect(config.provider.other).toBeUndefined();
    expect(architecture.runnerEnv(hosted)).toMatchObject({
      OPENCODE_API_KEY: "placeholder",
      AGENT_RUNTIME_PROVIDER_OPENCODE_BASE_URL: "http://opencode.ai:443/zen/v1",
      AGENT_RUNTIME_PROVIDER_OPENCODE_API_KEY: "placeholder",
    });
    expect(architecture.runnerEnv(input)).not.toHaveProperty("OPENCODE_API_KEY");
  });

  it("refuses paths that leave the workspace", () => {
    const hostile = agentProfileSchema.parse({
      id: "h",
      name: "H",
      defaultFiles: [{ path: "../etc/passwd", content: "" }],
    });
    expect(() => architecture.materialize({ ...input, profile: hostile })).toThrow(/leaves its folder/);
  });

  it("locates the exported transcript under HOME", () => {
    expect(
      architecture.transcriptPath({
        homeDir: "/home/agent",
        workspaceDir: "/workspace",
        nativeSessionId: "ses_1",
      }),
    ).toBe("/home/agent/.local/share/agent-runtime/opencode/ses_1.json");
  });
});
