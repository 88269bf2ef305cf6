import { describe, expect, it } from "vitest";
import { PermissionGate } from "./permission-gate.js";

describe("PermissionGate", () => {
  const gate = (tools?: string[]) =>
    new PermissionGate(tools ? { mode: "ask", tools } : { mode: "ask" }, { permissionRequest: () => {} });

  it("asks for the tools the policy names, in either agent's spelling", () => {
    expect(gate(["bash"]).needsAnswer("Bash")).toBe(true);
    expect(gate(["Task"]).needsAnswer("Agent")).toBe(true);
    expect(gate(["mcp__docs"]).needsAnswer("mcp__docs__search")).toBe(true);
    expect(gate(["Bash"]).needsAnswer("Read")).toBe(false);
    expect(gate().needsAnswer("Read")).toBe(true);
    expect(new PermissionGate({ mode: "bypass" }, { permissionRequest: () => {} }).needsAnswer("Bash")).toBe(
      false,
    );
  });
});
