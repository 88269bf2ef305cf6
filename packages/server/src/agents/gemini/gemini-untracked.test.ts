import { type AgentProfile, isIgnoredWorkspacePath } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { untrackedPaths } from "../../core/agent-launch.js";
import { createGeminiArchitecture } from "./gemini-architecture.js";

describe("Gemini CLI's own folder in the workspace", () => {
  it("is not tracked: the skills and settings written there stay out of the file index, also when a kept workspace is re-scanned", () => {
    const profile = { id: "coder" } as AgentProfile;
    const ignore = untrackedPaths(profile, createGeminiArchitecture());
    expect(isIgnoredWorkspacePath(".gemini/skills/code-review/SKILL.md", ignore)).toBe(true);
    expect(isIgnoredWorkspacePath(".gemini/settings.json", ignore)).toBe(true);
    expect(isIgnoredWorkspacePath("hello.txt", ignore)).toBe(false);
    expect(isIgnoredWorkspacePath("GEMINI.md", ignore)).toBe(false);
  });
});
