import type { Block } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { newestBlocks, pageOfBlocks } from "./block-page.js";

const blocks: Block[] = ["a", "b", "c", "d", "e"].map((id) => ({
  type: "assistant_text",
  id,
  timestamp: "",
  content: id,
}));
const ids = (page: { blocks: Block[] }) => page.blocks.map((block) => block.id);

describe("pageOfBlocks", () => {
  it("pages from the start, after a block and before one, saying where more are", () => {
    expect(pageOfBlocks(blocks, { limit: 2 })).toMatchObject({ hasMoreBefore: false, hasMoreAfter: true });
    expect(ids(pageOfBlocks(blocks, { limit: 2 }))).toEqual(["a", "b"]);
    expect(ids(pageOfBlocks(blocks, { after: "b", limit: 2 }))).toEqual(["c", "d"]);
    expect(pageOfBlocks(blocks, { after: "c", limit: 5 })).toMatchObject({
      hasMoreBefore: true,
      hasMoreAfter: false,
    });
    expect(ids(pageOfBlocks(blocks, { before: "d", limit: 2 }))).toEqual(["b", "c"]);
    expect(pageOfBlocks(blocks, { before: "c", limit: 5 })).toMatchObject({
      hasMoreBefore: false,
      hasMoreAfter: true,
    });
  });

  it("answers empty pages at either end", () => {
    expect(pageOfBlocks(blocks, { before: "a", limit: 3 })).toEqual({
      blocks: [],
      hasMoreBefore: false,
      hasMoreAfter: true,
    });
    expect(pageOfBlocks(blocks, { after: "e", limit: 3 })).toEqual({
      blocks: [],
      hasMoreBefore: true,
      hasMoreAfter: false,
    });
    expect(pageOfBlocks([], { limit: 3 })).toEqual({ blocks: [], hasMoreBefore: false, hasMoreAfter: false });
  });

  it("refuses a cursor that names no block, with VALIDATION_FAILED", () => {
    expect(() => pageOfBlocks(blocks, { after: "z", limit: 1 })).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });
});

describe("newestBlocks", () => {
  it("keeps the newest blocks and says whether older ones were left out", () => {
    expect(newestBlocks(blocks, 2)).toMatchObject({ hasOlderBlocks: true });
    expect(ids(newestBlocks(blocks, 2))).toEqual(["d", "e"]);
    expect(newestBlocks(blocks, 5).hasOlderBlocks).toBe(false);
    expect(newestBlocks(blocks, 0)).toEqual({ blocks: [], hasOlderBlocks: true });
  });
});
