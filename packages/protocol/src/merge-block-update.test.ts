import { describe, expect, it } from "vitest";
import type { Block } from "./blocks.js";
import { mergeBlockUpdate } from "./merge-block-update.js";

describe("mergeBlockUpdate", () => {
  const tool: Block = {
    type: "tool_use",
    id: "b1",
    timestamp: "2026-01-01T00:00:00.000Z",
    toolName: "Write",
    input: {},
    toolUseId: "u1",
    status: "running",
  };

  it("applies the update's fields and leaves the block as it was", () => {
    expect(mergeBlockUpdate(tool, { status: "success" })).toEqual({ ...tool, status: "success" });
    expect(tool.status).toBe("running");
  });

  it("never changes the block's id or type", () => {
    const merged = mergeBlockUpdate(tool, {
      id: "other",
      type: "thinking",
      status: "error",
    } as Partial<Block>);
    expect(merged).toMatchObject({ id: "b1", type: "tool_use", status: "error" });
  });
});
