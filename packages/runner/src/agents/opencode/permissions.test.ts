import { describe, expect, it } from "vitest";
import { permissionRequestOf } from "./permissions.js";

describe("OpenCode permission requests", () => {
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
