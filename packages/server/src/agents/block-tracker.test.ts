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

/** A clock the test moves: `advance(ms)`. */
function steppedClock() {
  let now = Date.parse(at);
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

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
      { kind: "block_start", block: { ...result("ok"), durationMs: 0 } },
      { kind: "block_complete", block: { ...result("ok"), durationMs: 0 } },
      { kind: "block_update", blockId: "ok", updates: { status: "success" } },
      { kind: "block_complete", block: { ...tool("ok"), status: "success" } },
      { kind: "block_start", block: { ...result("bad", true), durationMs: 0 } },
      { kind: "block_complete", block: { ...result("bad", true), durationMs: 0 } },
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
      displayName: "Scout",
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
      {
        kind: "block_update",
        blockId: "call:subagent",
        updates: { status: "completed", output: "report", summary: "report", durationMs: 0 },
      },
      {
        kind: "block_complete",
        block: { ...subagent, status: "completed", output: "report", summary: "report", durationMs: 0 },
      },
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
        displayName: "General",
      },
    });
  });

  it("times a tool call from its block's start to its result", () => {
    const clock = steppedClock();
    const blocks = new BlockTracker({ now: clock.now });
    const events: AgentEvent[] = [];
    blocks.start(tool("slow"), events);
    clock.advance(1500);
    blocks.start(tool("fast"), events);
    clock.advance(20);
    blocks.settleTool(result("fast"), events, () => undefined);
    clock.advance(5);
    blocks.settleTool(result("slow", true), events, () => undefined);
    // A result whose call was never seen (or already settled) has no duration.
    blocks.settleTool({ ...result("unknown"), id: "unknown:result" }, events, () => undefined);
    blocks.settleTool({ ...result("slow"), id: "slow:again" }, events, () => undefined);
    const durations = events.flatMap((e) =>
      e.kind === "block_complete" && e.block.type === "tool_result" ? [[e.block.id, e.block.durationMs]] : [],
    );
    expect(durations).toEqual([
      ["fast:result", 20],
      ["slow:result", 1525],
      ["unknown:result", undefined],
      ["slow:again", undefined],
    ]);
  });

  it("gives a subagent a display name, and on its end a duration and a one-line summary of its report", () => {
    const clock = steppedClock();
    const blocks = new BlockTracker({ now: clock.now });
    const events: AgentEvent[] = [];
    const launch = (id: string, type?: string) => {
      blocks.start(tool(id, "Task"), events);
      blocks.startSubagent(
        { toolUseId: id, input: type ? { subagent_type: type } : {}, defaultName: "general-purpose" },
        events,
      );
    };
    launch("a", "code-reviewer");
    launch("b");
    launch("c", "test_runner");
    launch("d", "Explore");
    const started = events.flatMap((e) =>
      e.kind === "block_start" && e.block.type === "subagent" ? [e.block.displayName] : [],
    );
    expect(started).toEqual(["Code reviewer", "General purpose", "Test runner", "Explore"]);

    clock.advance(4200);
    const report = `\n\n## Review done: ${"all good ".repeat(40)}\n\nDetails follow.`;
    blocks.settleTool(result("a"), events, () => report);
    blocks.settleTool(result("b"), events, () => "- **Found** three  files.\nMore.");
    blocks.settleTool(result("c", true), events, () => undefined);
    clock.advance(100);
    blocks.closeAll(events);
    const ended = Object.fromEntries(
      events.flatMap((e) =>
        e.kind === "block_complete" && e.block.type === "subagent"
          ? [[e.block.subagentId, { summary: e.block.summary, durationMs: e.block.durationMs }]]
          : [],
      ),
    );
    const long = `Review done: ${"all good ".repeat(40)}`.trim();
    expect(ended).toEqual({
      a: { summary: `${long.slice(0, 159)}…`, durationMs: 4200 },
      b: { summary: "**Found** three files.", durationMs: 4200 },
      c: { summary: undefined, durationMs: 4200 },
      d: { summary: undefined, durationMs: 4300 },
    });
    expect(ended.a?.summary).toHaveLength(160);
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
      { kind: "block_update", blockId: "call:subagent", updates: { status: "failed", durationMs: 0 } },
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
