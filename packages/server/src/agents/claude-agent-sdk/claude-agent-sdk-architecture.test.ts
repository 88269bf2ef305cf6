import { agentProfileSchema, runnerConfigSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { testRunnerInput } from "../__fixtures__/runner-input.js";
import { createClaudeAgentSdkArchitecture } from "./claude-agent-sdk-architecture.js";
import { encodeProjectDir } from "./transcript-path.js";

const architecture = createClaudeAgentSdkArchitecture();
const profile = agentProfileSchema.parse({
  id: "p",
  name: "P",
  systemPrompt: "Be brief.",
  tools: ["Read"],
  model: "profile-model",
  env: { FOO: "bar", ANTHROPIC_API_KEY: "profile-must-not-win", HOME: "/nope" },
});
const input = testRunnerInput(profile, "abc");

describe("claude-agent-sdk architecture", () => {
  it("configures the runner from profile, session options and resume id", () => {
    const config = runnerConfigSchema.parse(architecture.runnerConfig(input));
    expect(config).toMatchObject({
      architecture: "claude-agent-sdk",
      workspaceDir: "/workspace",
      model: "session-model",
      systemPrompt: "Be brief.",
      allowedTools: ["Read"],
      permissions: { mode: "ask", tools: ["Bash"] },
      resumeSessionId: "abc",
    });
  });

  it("gives the runner the endpoint, HOME and the quiet settings over the profile env", () => {
    const env = architecture.runnerEnv(input);
    expect(env).toMatchObject({
      FOO: "bar",
      HOME: "/home/agent",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9999",
      ANTHROPIC_API_KEY: "sk-endpoint",
      DISABLE_AUTOUPDATER: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "1",
    });
  });

  it("locates the transcript where Claude Code writes it", () => {
    expect(
      architecture.transcriptPath({
        homeDir: "/home/agent",
        workspaceDir: "/workspace",
        nativeSessionId: "s-1",
      }),
    ).toBe("/home/agent/.claude/projects/-workspace/s-1.jsonl");
    // Observed: /tmp/exp/ws-QCm3Am → -tmp-exp-ws-QCm3Am
    expect(encodeProjectDir("/tmp/exp/ws-QCm3Am")).toBe("-tmp-exp-ws-QCm3Am");
    expect(encodeProjectDir("/a_b.c/é")).toBe("-a-b-c--");
    const long = encodeProjectDir(`/${"x".repeat(300)}`);
    expect(long).toMatch(/^-x{199}-[0-9a-z]+$/);
  });
});
