import { describe, expect, it } from "vitest";
import { belongsToSubagent, blockOwner, isMainBlock } from "./block-owner.js";
import type { Block } from "./blocks.js";

const at = "2026-01-01T00:00:00.000Z";
const text: Block = { type: "assistant_text", id: "t", timestamp: at, content: "hi" };
const inSubagent: Block = { ...text, id: "t2", subagentId: "sa1" };
const subagent: Block = {
  type: "subagent",
  id: "s",
  timestamp: at,
  subagentId: "sa1",
  name: "x",
  status: "running",
};
const nested: Block = { ...subagent, id: "n", subagentId: "sa2", parentSubagentId: "sa1" };

describe("block ownership", () => {
  it("puts blocks without a subagent, and top-level subagent blocks, in the main conversation", () => {
    expect([text, subagent].map(blockOwner)).toEqual([null, null]);
    expect([text, subagent].every(isMainBlock)).toBe(true);
  });

  it("puts a subagent's blocks, and the subagents it starts, in that subagent's transcript", () => {
    expect([inSubagent, nested].map(blockOwner)).toEqual(["sa1", "sa1"]);
    expect([inSubagent, nested].some(isMainBlock)).toBe(false);
    expect(belongsToSubagent(inSubagent, "sa1")).toBe(true);
    expect(belongsToSubagent(nested, "sa1")).toBe(true);
    expect(belongsToSubagent(nested, "sa2")).toBe(false);
    expect(belongsToSubagent(subagent, "sa1")).toBe(false);
  });
});
