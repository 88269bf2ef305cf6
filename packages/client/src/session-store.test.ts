import type { Block, SessionData, SessionEvent, SessionEventInput } from "@agent-runtime/protocol";
import { describe, expect, it, vi } from "vitest";
import { SessionStore } from "./session-store.js";

const SID = "s1";
const T = "2025-01-01T00:00:00.000Z";

function sessionData(overrides: Partial<SessionData> = {}): SessionData {
  return {
    sessionId: SID,
    agentProfileRef: "test",
    architecture: "claude-agent-sdk",
    sessionOptions: {},
    createdAt: T,
    updatedAt: T,
    lastSeq: 0,
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
    runtime: { isLoaded: true, sandboxStatus: "pending", busy: false, queuedMessages: [], lastActivityAt: T },
    blocks: [],
    files: [],
    subagents: [],
    pendingPermissions: [],
    ...overrides,
  };
}

/** A loaded store plus an `emit` that stamps events with the next seq. */
function loadedStore(data: Partial<SessionData> = {}) {
  const store = new SessionStore(SID);
  store.replace(sessionData(data));
  let seq = store.getSnapshot().lastSeq;
  const event = (input: SessionEventInput, at = ++seq): SessionEvent =>
    ({ ...input, sessionId: SID, seq: at, timestamp: T }) as SessionEvent;
  const emit = (input: SessionEventInput) => store.receive(event(input));
  return { store, emit, event };
}

const text = (id: string, content = "", extra: Partial<Block> = {}): Block =>
  ({ type: "assistant_text", id, timestamp: T, content, ...extra }) as Block;

describe("SessionStore", () => {
  it("builds the main conversation from start, delta, update and complete events", () => {
    const { store, emit } = loadedStore();
    emit({ type: "session:block:start", block: text("a") });
    expect(store.getSnapshot().inflightBlockIds).toEqual(["a"]);
    emit({ type: "session:block:delta", blockId: "a", delta: "Hel" });
    emit({ type: "session:block:delta", blockId: "a", delta: "lo" });
    emit({ type: "session:block:update", blockId: "a", updates: { model: "m1" } });
    expect(store.getSnapshot().blocks).toEqual([{ ...text("a", "Hello"), model: "m1" }]);
    emit({ type: "session:block:start", block: text("b") });
    emit({ type: "session:block:complete", blockId: "a", block: text("a", "Hello!") });
    const snapshot = store.getSnapshot();
    expect(snapshot.blocks.map((b) => b.id)).toEqual(["a", "b"]);
    expect(snapshot.blocks[0]).toEqual(text("a", "Hello!"));
    expect(snapshot.inflightBlockIds).toEqual(["b"]);
    expect(snapshot.lastSeq).toBe(6);
  });

  it("shares structure: a delta to one block keeps every other block and field identical", () => {
    const { store, emit } = loadedStore({ blocks: [text("a", "one"), text("b", "two")], lastSeq: 10 });
    emit({ type: "session:block:start", block: text("c") });
    const before = store.getSnapshot();
    emit({ type: "session:block:delta", blockId: "c", delta: "x" });
    const after = store.getSnapshot();
    expect(after).not.toBe(before);
    expect(after.blocks).not.toBe(before.blocks);
    expect(after.blocks[2]).not.toBe(before.blocks[2]);
    expect(after.blocks[0]).toBe(before.blocks[0]);
    expect(after.blocks[1]).toBe(before.blocks[1]);
    expect(after.blocksById.a).toBe(before.blocksById.a);
    expect(after.blocksById.c).toBe(after.blocks[2]);
    for (const key of [
      "files",
      "subagents",
      "subagentBlocks",
      "runtime",
      "metadata",
      "turn",
      "inflightBlockIds",
    ] as const) {
      expect(after[key]).toBe(before[key]);
    }
  });

  it("returns the same snapshot until something changes and notifies once per change", () => {
    const { store, emit, event } = loadedStore();
    const listener = vi.fn();
    store.subscribe(listener);
    const first = store.getSnapshot();
    expect(store.getSnapshot()).toBe(first);
    emit({ type: "session:block:start", block: text("a") });
    expect(listener).toHaveBeenCalledTimes(1);
    store.receive(event({ type: "session:block:delta", blockId: "a", delta: "dup" }, 1));
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("ignores duplicate and old events and reports gaps without applying them", () => {
    const { store, event } = loadedStore();
    const onEvent = vi.fn();
    store.subscribeEvents(onEvent);
    const start = event({ type: "session:block:start", block: text("a") }, 1);
    const delta = event({ type: "session:block:delta", blockId: "a", delta: "x" }, 2);
    expect(store.receive(start)).toBe("applied");
    expect(store.receive(delta)).toBe("applied");
    expect(store.receive(delta)).toBe("ignored");
    expect(store.receive(start)).toBe("ignored");
    const later = event({ type: "session:block:delta", blockId: "a", delta: "y" }, 4);
    expect(store.receive(later)).toBe("gap");
    expect(store.getSnapshot().blocks[0]).toEqual(text("a", "x"));
    expect(store.getSnapshot().lastSeq).toBe(2);
    expect(store.receive(event({ type: "session:block:delta", blockId: "a", delta: "z" }, 3))).toBe(
      "applied",
    );
    expect(store.receive(later)).toBe("applied");
    expect(store.getSnapshot().blocks[0]).toEqual(text("a", "xzy"));
    expect(onEvent.mock.calls.map(([e]) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it("ignores events before the first load", () => {
    const store = new SessionStore(SID);
    const outcome = store.receive({
      type: "session:block:start",
      block: text("a"),
      sessionId: SID,
      seq: 1,
      timestamp: T,
    });
    expect(outcome).toBe("ignored");
    expect(store.getSnapshot().loadState).toBe("idle");
  });

  it("replaces its state with a snapshot, reusing unchanged blocks, and continues after its lastSeq", () => {
    const { store, emit, event } = loadedStore();
    emit({ type: "session:block:start", block: text("a", "kept") });
    emit({ type: "session:block:complete", blockId: "a", block: text("a", "kept") });
    emit({ type: "session:block:start", block: text("b") });
    emit({ type: "session:file:created", file: { path: "x.txt", size: 1, modifiedAt: T } });
    const kept = store.getSnapshot().blocks[0];
    store.replace(
      sessionData({
        lastSeq: 20,
        blocks: [text("a", "kept"), text("b", "done"), text("c", "new")],
        files: [],
        runtime: { sandboxStatus: "running", busy: true, lastActivityAt: T },
      }),
    );
    const snapshot = store.getSnapshot();
    expect(snapshot.lastSeq).toBe(20);
    expect(snapshot.blocks.map((b) => b.id)).toEqual(["a", "b", "c"]);
    expect(snapshot.blocks[0]).toBe(kept);
    expect(snapshot.blocks[1]).toEqual(text("b", "done"));
    expect(snapshot.files).toEqual([]);
    expect(snapshot.inflightBlockIds).toEqual([]);
    expect(snapshot.turn.running).toBe(true);
    expect(store.receive(event({ type: "session:block:delta", blockId: "c", delta: "old" }, 20))).toBe(
      "ignored",
    );
    expect(store.receive(event({ type: "session:block:delta", blockId: "c", delta: "!" }, 21))).toBe(
      "applied",
    );
    expect(store.getSnapshot().blocks[2]).toEqual(text("c", "new!"));
  });

  it("routes subagent blocks to their transcript and tracks subagents", () => {
    const { store, emit } = loadedStore();
    const subagentBlock = {
      type: "subagent",
      id: "sb",
      timestamp: T,
      subagentId: "sa1",
      name: "helper",
      status: "running",
    } as const;
    emit({ type: "session:block:start", block: subagentBlock });
    emit({
      type: "session:subagent:discovered",
      subagent: { id: "sa1", name: "helper", status: "running", startedAt: T },
    });
    emit({ type: "session:block:start", block: text("inner", "", { subagentId: "sa1" }) });
    emit({ type: "session:block:delta", blockId: "inner", delta: "working" });
    emit({
      type: "session:block:start",
      block: { ...subagentBlock, id: "nested", subagentId: "sa2", parentSubagentId: "sa1" },
    });
    emit({ type: "session:subagent:completed", subagentId: "sa1", status: "completed" });
    const snapshot = store.getSnapshot();
    expect(snapshot.blocks.map((b) => b.id)).toEqual(["sb"]);
    expect(snapshot.subagentBlocks.sa1?.map((b) => b.id)).toEqual(["inner", "nested"]);
    expect(snapshot.blocksById.inner).toEqual(text("inner", "working", { subagentId: "sa1" }));
    expect(snapshot.subagents).toEqual([
      { id: "sa1", name: "helper", status: "completed", startedAt: T, completedAt: T },
    ]);
  });

  it("merges a fetched subagent transcript without overriding blocks events brought", () => {
    const { store, emit } = loadedStore();
    emit({ type: "session:block:start", block: text("live", "streamed", { subagentId: "sa1" }) });
    const live = store.getSnapshot().blocksById.live;
    store.mergeSubagentBlocks("sa1", [
      text("old", "done", { subagentId: "sa1" }),
      text("live", "stale", { subagentId: "sa1" }),
    ]);
    const transcript = store.getSnapshot().subagentBlocks.sa1 ?? [];
    expect(transcript.map((b) => b.id)).toEqual(["old", "live"]);
    expect(transcript[1]).toBe(live);
  });

  it("keeps the file index sorted and applies status, usage, turns and errors", () => {
    const { store, emit } = loadedStore();
    emit({ type: "session:file:created", file: { path: "b.txt", size: 1, modifiedAt: T, content: "x" } });
    emit({ type: "session:file:created", file: { path: "a.txt", size: 2, modifiedAt: T } });
    emit({ type: "session:file:modified", file: { path: "b.txt", size: 3, modifiedAt: T } });
    expect(store.getSnapshot().files).toEqual([
      { path: "a.txt", size: 2, modifiedAt: T },
      { path: "b.txt", size: 3, modifiedAt: T },
    ]);
    emit({ type: "session:file:deleted", path: "a.txt" });
    expect(store.getSnapshot().files.map((f) => f.path)).toEqual(["b.txt"]);

    const runtime = { sandboxStatus: "running", busy: true, lastActivityAt: T } as const;
    emit({ type: "session:status", runtime });
    const usage = {
      inputTokens: 5,
      outputTokens: 7,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      costUsd: 0.01,
    };
    emit({ type: "session:metadata:update", usage, estimated: true });
    emit({ type: "session:turn:started", turnId: "t1", content: "hi" });
    expect(store.getSnapshot().turn).toEqual({ running: true, turnId: "t1", lastStopReason: undefined });
    emit({ type: "error", code: "AGENT_FAILED", message: "boom" });
    emit({ type: "session:turn:completed", turnId: "t1", stopReason: "error" });
    const snapshot = store.getSnapshot();
    expect(snapshot.runtime).toEqual(runtime);
    expect(snapshot.metadata?.usage).toEqual(usage);
    expect(snapshot.usageEstimated).toBe(true);
    expect(snapshot.turn).toEqual({ running: false, turnId: undefined, lastStopReason: "error" });
    expect(snapshot.errors).toEqual([{ code: "AGENT_FAILED", message: "boom", seq: 8, timestamp: T }]);
  });

  it("lists a queued message until its turn starts, also when the start came first", () => {
    const { store, emit } = loadedStore();
    store.trackSentMessage("first", { turnId: "t1", queued: false });
    store.trackSentMessage("second", { turnId: "t2", queued: true });
    expect(store.getSnapshot().queuedMessages).toEqual([{ turnId: "t2", content: "second" }]);
    emit({ type: "session:turn:started", turnId: "t2", content: "second" });
    expect(store.getSnapshot().queuedMessages).toEqual([]);
    emit({ type: "session:turn:started", turnId: "t3", content: "third" });
    store.trackSentMessage("third", { turnId: "t3", queued: true });
    expect(store.getSnapshot().queuedMessages).toEqual([]);
  });

  it("tracks permission requests and advances over event types it does not know", () => {
    const { store } = loadedStore();
    const base = { sessionId: SID, timestamp: T };
    const request = {
      requestId: "r1",
      toolName: "Bash",
      input: { command: "ls" },
      requestedAt: T,
      expiresAt: T,
    };
    store.receive({ ...base, seq: 1, type: "session:permission:requested", request });
    expect(store.getSnapshot().pendingPermissions).toEqual([request]);
    expect(store.receive({ ...base, seq: 2, type: "session:something:new" })).toBe("applied");
    store.receive({
      ...base,
      seq: 3,
      type: "session:permission:resolved",
      requestId: "r1",
      decision: "deny",
      reason: "expired",
    });
    expect(store.getSnapshot().pendingPermissions).toEqual([]);
    expect(store.getSnapshot().lastSeq).toBe(3);
  });
});
