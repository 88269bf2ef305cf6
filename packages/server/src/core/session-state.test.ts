import type { Block, SessionRecord } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { addBlock, applyAgentEvent, SessionState } from "./session-state.js";

const record = { sessionId: "s", updatedAt: new Date(0).toISOString() } as SessionRecord;
const text = (id: string, content = ""): Block =>
  ({ type: "text", id, timestamp: new Date(0).toISOString(), content }) as Block;

describe("SessionState", () => {
  it("keeps blocks in start order, restored ones first, whatever completes or changes when", () => {
    const state = new SessionState(record, { blocks: [text("r1"), text("r2")], files: [] });
    applyAgentEvent(state, { kind: "block_start", block: text("a") });
    applyAgentEvent(state, { kind: "block_start", block: text("b") });
    addBlock(state, text("c"));
    // `b` completes before `a`, `a` streams text, and a block completes that never started.
    applyAgentEvent(state, { kind: "block_complete", block: text("b", "done") });
    applyAgentEvent(state, { kind: "block_delta", blockId: "a", delta: "more" });
    applyAgentEvent(state, { kind: "block_complete", block: text("a", "more") });
    applyAgentEvent(state, { kind: "block_complete", block: text("d", "late") });
    expect(state.mainBlocks().map((block) => block.id)).toEqual(["r1", "r2", "a", "b", "c", "d"]);
    expect(state.mainBlocks().find((block) => block.id === "a")).toMatchObject({ content: "more" });
    expect(state.pendingBlocks().map(({ block }) => block.id)).toEqual(["a", "b", "c", "d"]);
  });
});
