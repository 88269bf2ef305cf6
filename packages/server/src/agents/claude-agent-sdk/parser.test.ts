import { readFileSync } from "node:fs";
import { blockSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "../agent-architecture.js";
import { createClaudeParser } from "./parser.js";

/** Recorded from the real Claude Code 2.1.330 (agent SDK 0.3.330) through the runner against a fake model. */
function fixture(name: string): unknown[] {
  const text = readFileSync(new URL(`./__fixtures__/${name}.jsonl`, import.meta.url), "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as unknown);
}

function parseAll(messages: unknown[]): AgentEvent[] {
  const parser = createClaudeParser({ now: () => new Date("2026-01-01T00:00:00Z") });
  return [...messages.flatMap((m) => parser.parse(m)), ...parser.flush()];
}

const of = <K extends AgentEvent["kind"]>(events: AgentEvent[], kind: K) =>
  events.filter((e): e is Extract<AgentEvent, { kind: K }> => e.kind === kind);

/** Every block starts once, completes once, after its start, and every event is schema-valid. */
function expectWellFormed(events: AgentEvent[]): void {
  const started = new Set<string>();
  const done = new Set<string>();
  for (const event of events) {
    if (event.kind === "block_start") {
      expect(started.has(event.block.id), `started twice: ${event.block.id}`).toBe(false);
      expect(blockSchema.safeParse(event.block).success).toBe(true);
      started.add(event.block.id);
    } else if (event.kind === "block_delta" || event.kind === "block_update") {
      expect(started.has(event.blockId) && !done.has(event.blockId), `not open: ${event.blockId}`).toBe(true);
    } else if (event.kind === "block_complete") {
      expect(started.has(event.block.id) && !done.has(event.block.id), `not open: ${event.block.id}`).toBe(
        true,
      );
      expect(blockSchema.safeParse(event.block).success).toBe(true);
      done.add(event.block.id);
    }
  }
  expect([...started].filter((id) => !done.has(id))).toEqual([]);
}

describe("Claude parser on recorded fixtures", () => {
  it("streams a text answer: deltas concatenate to the final text", () => {
    const events = parseAll(fixture("text-answer"));
    expectWellFormed(events);
    expect(of(events, "native_session")).toHaveLength(1);
    const starts = of(events, "block_start").map((e) => e.block);
    expect(starts.map((b) => b.type)).toEqual(["system", "assistant_text"]);
    const text = starts[1]!;
    const deltas = of(events, "block_delta").filter((e) => e.blockId === text.id);
    expect(deltas.length).toBeGreaterThan(1);
    const final = of(events, "block_complete").find((e) => e.block.id === text.id)!.block;
    expect(final).toMatchObject({ type: "assistant_text", model: "claude-opus-5-5" });
    expect(deltas.map((d) => d.delta).join("")).toBe((final as { content: string }).content);
    expect((final as { content: string }).content).toMatch(/^Hello! I am a fake model/);
    expect(of(events, "usage")[0]).toMatchObject({
      estimated: true,
      usage: { inputTokens: 100, outputTokens: 20 },
    });
    expect(of(events, "usage")[0]!.usage.costUsd).toBeGreaterThan(0);
    // The result closes the turn's blocks, then reports its usage.
    expect(events.at(-1)?.kind).toBe("usage");
  });

  it("pairs tool uses with their results and sets their status", () => {
    const events = parseAll(fixture("write-bash-tools"));
    expectWellFormed(events);
    const blocks = of(events, "block_complete").map((e) => e.block);
    expect(blocks.map((b) => b.type)).toEqual([
      "system",
      "assistant_text",
      "tool_result",
      "tool_use",
      "tool_result",
      "tool_use",
      "tool_result",
      "tool_use",
      "assistant_text",
    ]);
    const tools = blocks.filter((b) => b.type === "tool_use");
    expect(tools.map((t) => [t.toolName, t.status])).toEqual([
      ["Write", "success"],
      ["Bash", "success"],
      ["Bash", "error"],
    ]);
    expect(tools[0]!.input).toMatchObject({ content: "line one\nline two\n" });
    expect(tools[1]!.input).toEqual({ command: "wc -l notes.txt", description: "Count lines" });
    const results = blocks.filter((b) => b.type === "tool_result");
    expect(results.map((r) => r.toolUseId)).toEqual(tools.map((t) => t.toolUseId));
    expect(results[1]).toMatchObject({ content: "2 notes.txt" });
    expect(results[2]).toMatchObject({ isError: true });
    // A tool_use block opens with empty input while its input streams, then gets it in one update.
    const writeStart = of(events, "block_start").find((e) => e.block.id === tools[0]!.id)!.block;
    expect(writeStart).toMatchObject({ input: {}, status: "pending" });
    const updates = of(events, "block_update").filter((e) => e.blockId === tools[0]!.id);
    expect(updates.map((u) => (u.updates as { status?: string }).status)).toEqual(["running", "success"]);
  });

  it("streams thinking before the answer", () => {
    const events = parseAll(fixture("thinking"));
    expectWellFormed(events);
    const blocks = of(events, "block_complete").map((e) => e.block);
    expect(blocks.map((b) => b.type)).toEqual(["system", "thinking", "assistant_text"]);
    const thinking = blocks[1] as { id: string; content: string };
    expect(thinking.content).toBe("The user wants me to think first. Two plus two is four.");
    const deltas = of(events, "block_delta").filter((e) => e.blockId === thinking.id);
    expect(deltas.map((d) => d.delta).join("")).toBe(thinking.content);
  });

  it("turns an Agent tool call into a subagent whose blocks carry its id", () => {
    const events = parseAll(fixture("subagent-task"));
    expectWellFormed(events);
    const discovered = of(events, "subagent_discovered");
    expect(discovered).toHaveLength(1);
    const subagentId = discovered[0]!.subagent.id;
    expect(discovered[0]!.subagent).toMatchObject({
      name: "general-purpose",
      status: "running",
      description: "Check things",
    });
    expect(of(events, "subagent_completed")).toEqual([
      { kind: "subagent_completed", subagentId, status: "completed" },
    ]);
    const blocks = of(events, "block_complete").map((e) => e.block);
    const subagent = blocks.find((b) => b.type === "subagent")!;
    expect(subagent).toMatchObject({ subagentId, status: "completed", prompt: "SUBTASK: say ok" });
    expect((subagent as { output?: string }).output).toBe("Subagent report: sub-ok.");
    const inside = blocks.filter((b) => b.subagentId === subagentId && b.type !== "subagent");
    expect(inside.map((b) => b.type)).toEqual([
      "assistant_text",
      "tool_result",
      "tool_use",
      "assistant_text",
    ]);
    // The subagent's own tool call is paired, and the launching Agent tool_use succeeds.
    expect(blocks.find((b) => b.type === "tool_use" && b.toolName === "Agent")).toMatchObject({
      status: "success",
    });
    // The subagent block completes right after the Agent tool's result.
    const order = of(events, "block_complete").map((e) => e.block.id);
    expect(order.indexOf(`${subagentId}:subagent`)).toBe(order.indexOf(subagentId) + 1);
    const finalText = blocks.at(-1)!;
    expect(finalText).toMatchObject({ type: "assistant_text", content: "The subagent said ok." });
    expect(finalText.subagentId).toBeUndefined();
  });

  it("keeps what an interrupted turn streamed, without an error block", () => {
    const events = parseAll(fixture("interrupted"));
    expectWellFormed(events);
    expect(of(events, "block_complete").some((e) => e.block.type === "error")).toBe(false);
    const text = of(events, "block_complete").find((e) => e.block.type === "assistant_text")!.block;
    expect((text as { content: string }).content).toMatch(/^tick/);
  });

  it("yields the same ids when the same messages are parsed again", () => {
    const messages = fixture("subagent-task");
    const ids = (events: AgentEvent[]) => of(events, "block_start").map((e) => e.block.id);
    expect(ids(parseAll(messages))).toEqual(ids(parseAll(messages)));
  });

  it("builds blocks from full messages alone (no partial events)", () => {
    const messages = fixture("write-bash-tools").filter(
      (m) => (m as { type: string }).type !== "stream_event",
    );
    const events = parseAll(messages);
    expectWellFormed(events);
    const streamed = of(parseAll(fixture("write-bash-tools")), "block_complete").map((e) => e.block);
    expect(of(events, "block_complete").map((e) => e.block)).toEqual(streamed);
  });
});

describe("Claude parser on hostile input", () => {
  it("never throws and reports malformed messages as error blocks", () => {
    const parser = createClaudeParser();
    const bad: unknown[] = [
      null,
      42,
      "text",
      [],
      {},
      { type: 7 },
      { type: "assistant" },
      { type: "assistant", message: { content: "nope" } },
      { type: "user", message: null },
      { type: "stream_event" },
      {
        type: "stream_event",
        event: { type: "content_block_delta", index: 0, delta: { type: "text_delta" } },
      },
      {
        type: "result",
        subtype: "success",
        model_usage_since_last_result: { m: { inputTokens: -5, costUSD: "x" } },
      },
      { type: "system", subtype: "init" },
      { type: "some_future_type", anything: true },
    ];
    const events = bad.flatMap((m) => parser.parse(m));
    const errors = of(events, "block_start").filter((e) => e.block.type === "error");
    expect(errors).toHaveLength(10);
    expect(of(events, "block_complete").filter((e) => e.block.type === "error")).toHaveLength(10);
    expect(of(events, "usage")[0]!.usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      costUsd: 0,
    });
  });

  it("never throws on truncated or mutated fixture messages", () => {
    const messages = ["write-bash-tools", "subagent-task", "thinking"].flatMap(fixture);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 20; round++) {
      const parser = createClaudeParser();
      for (const message of messages) {
        const text = JSON.stringify(message);
        const cut = text.slice(0, Math.floor(random() * text.length));
        let mutated: unknown;
        try {
          mutated = JSON.parse(cut);
        } catch {
          mutated = mutate(message, random);
        }
        expect(() => parser.parse(mutated)).not.toThrow();
      }
      expect(() => parser.flush()).not.toThrow();
    }
  });

  it("flush completes open blocks, failing unfinished tools and subagents", () => {
    const parser = createClaudeParser();
    const messages = fixture("subagent-task");
    const cut = messages.findIndex((m) => (m as { parent_tool_use_id?: unknown }).parent_tool_use_id);
    const events = [...messages.slice(0, cut + 1).flatMap((m) => parser.parse(m)), ...parser.flush()];
    expectWellFormed(events);
    expect(of(events, "subagent_completed")[0]).toMatchObject({ status: "failed" });
    expect(parser.flush()).toEqual([]);
  });
});

/** Replaces one random nested value with a value of the wrong type. */
function mutate(value: unknown, random: () => number): unknown {
  if (typeof value !== "object" || value === null) return value;
  const copy = structuredClone(value) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (let depth = 0; depth < 4; depth++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[Math.floor(random() * keys.length)]!;
    const child = node[key];
    if (typeof child !== "object" || child === null || random() < 0.3) {
      node[key] = [null, 1, "x", [], {}][Math.floor(random() * 5)];
      break;
    }
    node = child as Record<string, unknown>;
  }
  return copy;
}
