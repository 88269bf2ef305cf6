import { describe, expect, it } from "vitest";
import { resolveWorkspacePath } from "./workspace-path.js";

describe("resolveWorkspacePath", () => {
  it("joins plain relative paths", () => {
    expect(resolveWorkspacePath("/workspace", "a/b.txt")).toBe("/workspace/a/b.txt");
    expect(resolveWorkspacePath("/workspace", "./a//b.txt")).toBe("/workspace/a/b.txt");
  });

  it.each([
    "",
    "../etc/passwd",
    "a/../../etc/passwd",
    "a/..",
    "/etc/passwd",
    "a\0b",
    "a\\..\\b",
    ".",
    "x".repeat(2000),
  ])("rejects %j", (path) => {
    expect(() => resolveWorkspacePath("/workspace", path)).toThrow(
      expect.objectContaining({ code: "INVALID_PATH" }),
    );
  });
});
