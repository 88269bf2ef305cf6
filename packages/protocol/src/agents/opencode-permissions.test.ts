import { describe, expect, it } from "vitest";
import { openCodePermissionConfig, openCodePermissionOf } from "./opencode-permissions.js";

describe("OpenCode permissions", () => {
  it("maps tool names of either spelling onto OpenCode's permissions", () => {
    const names = ["Bash", "bash", "Write", "Edit", "write", "apply_patch", "Task", "WebFetch"];
    expect(names.map(openCodePermissionOf)).toEqual([
      "bash",
      "bash",
      "edit",
      "edit",
      "edit",
      "edit",
      "task",
      "webfetch",
    ]);
    expect(openCodePermissionOf("mcp__docs__search")).toBe("docs_search");
    expect(openCodePermissionOf("mcp__docs")).toBe("docs_*");
    expect(openCodePermissionOf("external_directory")).toBe("external_directory");
  });

  it("without a tool list: allows everything in bypass mode, asks for all or the listed tools in ask mode", () => {
    expect(openCodePermissionConfig({ mode: "bypass", tools: ["Bash"] })).toBe("allow");
    expect(openCodePermissionConfig({ mode: "ask" })).toEqual({ "*": "ask" });
    const listed = openCodePermissionConfig({ mode: "ask", tools: ["Bash", "Write", "Edit"] });
    expect(listed).toEqual({ "*": "allow", bash: "ask", edit: "ask" });
    // OpenCode applies the last matching rule: the catch-all must come first.
    expect(Object.keys(listed)[0]).toBe("*");
  });

  it("with a tool list: denies everything else, and the policy decides about the listed tools", () => {
    const tools = ["Read", "Glob", "Write", "Edit", "mcp__docs"];
    const bypass = openCodePermissionConfig({ mode: "bypass" }, tools);
    expect(bypass).toEqual({
      "*": "deny",
      external_directory: "allow",
      doom_loop: "allow",
      read: "allow",
      glob: "allow",
      edit: "allow",
      "docs_*": "allow",
    });
    expect(Object.keys(bypass)[0]).toBe("*");
    expect(openCodePermissionConfig({ mode: "ask" }, ["Read"])).toEqual({
      "*": "deny",
      external_directory: "ask",
      doom_loop: "ask",
      read: "ask",
    });
    // A tool the policy asks for but the profile does not list stays denied; one allowed through its server asks.
    expect(
      openCodePermissionConfig({ mode: "ask", tools: ["Bash", "Read", "mcp__docs__search"] }, [
        "Read",
        "mcp__docs",
      ]),
    ).toEqual({
      "*": "deny",
      external_directory: "allow",
      doom_loop: "allow",
      read: "ask",
      "docs_*": "allow",
      docs_search: "ask",
    });
  });
});
