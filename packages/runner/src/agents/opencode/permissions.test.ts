import { describe, expect, it } from "vitest";
import { openCodePermissionConfig, openCodePermissionOf, permissionRequestOf } from "./permissions.js";

describe("OpenCode permission mapping", () => {
  it("maps Claude Code's and OpenCode's tool names onto OpenCode's permissions", () => {
    const names = ["Bash", "bash", "Write", "Edit", "MultiEdit", "write", "apply_patch", "LS", "WebFetch"];
    expect(names.map(openCodePermissionOf)).toEqual([
      "bash",
      "bash",
      "edit",
      "edit",
      "edit",
      "edit",
      "edit",
      "list",
      "webfetch",
    ]);
    expect(openCodePermissionOf("mcp__docs__search")).toBe("docs_search");
    expect(openCodePermissionOf("external_directory")).toBe("external_directory");
  });

  it("allows everything in bypass mode, asks for everything or for the listed tools in ask mode", () => {
    expect(openCodePermissionConfig({ mode: "bypass", tools: ["Bash"] })).toBe("allow");
    expect(openCodePermissionConfig({ mode: "ask" })).toEqual({ "*": "ask" });
    const listed = openCodePermissionConfig({ mode: "ask", tools: ["Bash", "Write", "Edit"] });
    expect(listed).toEqual({ "*": "allow", bash: "ask", edit: "ask" });
    // OpenCode applies the last matching rule: the catch-all must come first.
    expect(Object.keys(listed)[0]).toBe("*");
  });

  it("turns a permission.asked event into a permission_request line", () => {
    const asked = {
      id: "per_1",
      sessionID: "ses_1",
      permission: "bash",
      patterns: ["touch x.marker"],
      metadata: { command: "touch x.marker" },
      tool: { messageID: "msg_1", callID: "call_1" },
    };
    expect(permissionRequestOf(asked, { command: "touch x.marker", description: "Mark" })).toEqual({
      type: "permission_request",
      requestId: "per_1",
      toolName: "bash",
      input: { command: "touch x.marker", description: "Mark" },
      toolUseId: "call_1",
      title: "bash: touch x.marker",
    });
    const { tool: _tool, ...withoutCall } = asked;
    expect(permissionRequestOf({ ...withoutCall, patterns: ["*"] }, undefined)).toEqual({
      type: "permission_request",
      requestId: "per_1",
      toolName: "bash",
      input: { command: "touch x.marker" },
    });
  });
});
