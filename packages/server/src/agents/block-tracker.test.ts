import type { AssistantTextBlock, ToolResultBlock, ToolUseBlock } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "./agent-architecture.js";
import { BlockTracker } from "./block-tracker.js";

const at = "2026-01-01T00:00:00.000Z";
const tracker = () => new BlockTracker({ now: () => new Date(at) });
const text = (id: string, content = ""): AssistantTextBlock => ({
  type: "assistant_text",
  id,
  timestamp: at,
  content,
});
const tool = (id: string, toolName = "Bash"): ToolUseBlock => ({
  type: "tool_use",
  id,
  timestamp: at,
  toolUseId: id,
  toolName,
  input: {},
  status: "running",
});
const result = (toolUseId: string, isError = false): ToolResultBlock => ({
  type: "tool_result",
  id: `${toolUseId}:result`,
  timestamp: at,
  toolUseId,
  content: "out",
  ...(isError ? { isError: true } : {}),
});
const kinds = (events: AgentEvent[]) =>
  events.map((e) => `${e.kind}:${"block" in e ? e.block.id : "blockId" in e ? e.blockId : ""}`);

describe("BlockTracker", () => {
  it("starts, streams into, updates and completes a block once", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.start(text("t"), events);
    blocks.appendDelta("t", "Hel", events);
    blocks.appendDelta("t", "lo", events);
    expect(blocks.get("t")).toMatchObject({ content: "Hello" });
    blocks.complete("t", events, { content: "Hello!" });
    blocks.complete("t", events);
    blocks.appendDelta("t", "late", events);
    blocks.update("t", { timestamp: "later" }, events);
    expect(events).toEqual([
      { kind: "block_start", block: text("t") },
      { kind: "block_delta", blockId: "t", delta: "Hel" },
      { kind: "block_delta", blockId: "t", delta: "lo" },
      { kind: "block_complete", block: text("t", "Hello!") },
    ]);
    expect(blocks.isOpen("t")).toBe(false);
    expect(blocks.isCompleted("t")).toBe(true);
  });

  it("streams deltas only into text and thinking blocks", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.start(tool("x"), events);
    blocks.appendDelta("x", "{}", events);
    expect(kinds(events)).toEqual(["block_start:x"]);
  });

  it("emits a whole block only when its id was never seen", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.emitWhole(text("a", "1"), events);
    blocks.emitWhole(text("a", "2"), events);
    blocks.start(text("b"), events);
    blocks.emitWhole(text("b", "3"), events);
    expect(kinds(events)).toEqual(["block_start:a", "block_complete:a", "block_start:b"]);
  });

  it("numbers error blocks unless a native id names them, sharing the serial with other ids", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.error("bad", "MALFORMED_MESSAGE", events);
    expect(blocks.nextSerial()).toBe(2);
    blocks.error("api", "rate_limit", events, { nativeId: "u-1", subagentId: "task-1" });
    blocks.error("again", "PARSE_FAILED", events, { subagentId: undefined });
    const completed = events.flatMap((e) => (e.kind === "block_complete" ? [e.block] : []));
    expect(completed).toEqual([
      { type: "error", id: "error:1", timestamp: at, message: "bad", code: "MALFORMED_MESSAGE" },
      {
        type: "error",
        id: "error:u-1",
        timestamp: at,
        message: "api",
        code: "rate_limit",
        subagentId: "task-1",
      },
      { type: "error", id: "error:3", timestamp: at, message: "again", code: "PARSE_FAILED" },
    ]);
  });

  it("settles a tool call: result, status, completion", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.start(tool("ok"), events);
    blocks.start(tool("bad"), events);
    blocks.settleTool(result("ok"), events, () => "unused");
    blocks.settleTool(result("bad", true), events, () => "unused");
    expect(events.slice(2)).toEqual([
      { kind: "block_start", block: result("ok") },
      { kind: "block_complete", block: result("ok") },
      { kind: "block_update", blockId: "ok", updates: { status: "success" } },
      { kind: "block_complete", block: { ...tool("ok"), status: "success" } },
      { kind: "block_start", block: result("bad", true) },
      { kind: "block_complete", block: result("bad", true) },
      { kind: "block_update", blockId: "bad", updates: { status: "error" } },
      { kind: "block_complete", block: { ...tool("bad"), status: "error" } },
    ]);
  });

  it("starts a subagent once from its launching call and ends it with the call's report", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    const input = { subagent_type: "scout", description: "Look around", prompt: "Look." };
    blocks.start(tool("call", "Task"), events);
    blocks.startSubagent({ toolUseId: "call", input, defaultName: "general" }, events);
    blocks.startSubagent({ toolUseId: "call", input, defaultName: "general" }, events);
    const subagent = {
      type: "subagent",
      id: "call:subagent",
      timestamp: at,
      subagentId: "call",
      name: "scout",
      status: "running",
      description: "Look around",
      prompt: "Look.",
    };
    expect(events.slice(1)).toEqual([
      { kind: "block_start", block: subagent },
      {
        kind: "subagent_discovered",
        subagent: { id: "call", name: "scout", status: "running", description: "Look around", startedAt: at },
      },
    ]);
    events.length = 0;
    blocks.settleTool(result("call"), events, () => "report");
    expect(events.slice(4)).toEqual([
      { kind: "block_update", blockId: "call:subagent", updates: { status: "completed", output: "report" } },
      { kind: "block_complete", block: { ...subagent, status: "completed", output: "report" } },
      { kind: "subagent_completed", subagentId: "call", status: "completed" },
    ]);
  });

  it("names a subagent by default and records the subagent that launched it", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.startSubagent(
      { toolUseId: "c", input: {}, defaultName: "general", parentSubagentId: "p" },
      events,
    );
    expect(events[0]).toEqual({
      kind: "block_start",
      block: {
        type: "subagent",
        id: "c:subagent",
        timestamp: at,
        subagentId: "c",
        parentSubagentId: "p",
        name: "general",
        status: "running",
      },
    });
  });

  it("closes every open block in start order: tool calls fail, subagents fail", () => {
    const blocks = tracker();
    const events: AgentEvent[] = [];
    blocks.start(text("t"), events);
    blocks.start(tool("call", "Task"), events);
    blocks.startSubagent({ toolUseId: "call", input: {}, defaultName: "general" }, events);
    events.length = 0;
    blocks.closeAll(events);
    expect(events).toEqual([
      { kind: "block_complete", block: text("t") },
      { kind: "block_update", blockId: "call", updates: { status: "error" } },
      { kind: "block_complete", block: { ...tool("call", "Task"), status: "error" } },
      { kind: "block_update", blockId: "call:subagent", updates: { status: "failed" } },
      {
        kind: "block_complete",
        block: expect.objectContaining({ id: "call:subagent", status: "failed" }),
      },
      { kind: "subagent_completed", subagentId: "call", status: "failed" },
    ]);
    events.length = 0;
    blocks.closeAll(events);
    expect(events).toEqual([]);
  });
});
