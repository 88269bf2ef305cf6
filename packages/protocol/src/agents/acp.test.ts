import { describe, expect, it } from "vitest";
import { ACP_MAX_ENV_ENTRIES, acpAgentCommandSchema } from "./acp.js";

const envOf = (count: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, index) => [`VAR_${index}`, "x"]));

describe("acpAgentCommandSchema", () => {
  it("takes up to ACP_MAX_ENV_ENTRIES environment variables", () => {
    const parsed = acpAgentCommandSchema.safeParse({ command: "agent", env: envOf(ACP_MAX_ENV_ENTRIES) });
    expect(parsed.success).toBe(true);
  });

  it("refuses more environment variables, saying how many it takes", () => {
    const parsed = acpAgentCommandSchema.safeParse({ command: "agent", env: envOf(ACP_MAX_ENV_ENTRIES + 1) });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({
      path: ["env"],
      message: `at most ${ACP_MAX_ENV_ENTRIES} environment variables, got ${ACP_MAX_ENV_ENTRIES + 1}`,
    });
  });

  it("refuses more than 100 arguments", () => {
    const parsed = acpAgentCommandSchema.safeParse({ command: "agent", args: Array(101).fill("-v") });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["args"]);
  });
});
