import { describe, expect, it } from "vitest";
import { isIgnoredWorkspacePath } from "./workspace-ignore.js";

describe("isIgnoredWorkspacePath", () => {
  it("ignores an entry and everything below it, and always .claude", () => {
    const ignore = [".git", "./node_modules/", ""];
    expect(isIgnoredWorkspacePath(".git", ignore)).toBe(true);
    expect(isIgnoredWorkspacePath("node_modules/a/b.js", ignore)).toBe(true);
    expect(isIgnoredWorkspacePath(".claude/settings.json", [])).toBe(true);
    expect(isIgnoredWorkspacePath(".gitignore", ignore)).toBe(false);
    expect(isIgnoredWorkspacePath("src/node_modules.txt", ignore)).toBe(false);
  });
});
