import { readFileSync } from "node:fs";
import { blockSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "../agent-architecture.js";
import { createOpenCodeParser } from "./parser.js";

const fixture = (name: string): unknown[] =>
  readFileSync(new URL(`./__fixtures__/${name}.jsonl`, import.meta.url), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

const parseAll = (messages: unknown[]): AgentEvent[] => {
  const parser = createOpenCodeParser({ now: () => new Date(0) });
  return [...messages.flatMap((m) => parser.parse(m)), ...parser.flush()];
};
const completed = (events: AgentEvent[]) =>
  events.flatMap((e) => (e.kind === "block_complete" ? [e.block] : []));
const of = <K extends AgentEvent["kind"]>(events: AgentEvent[], kind: K) =>
  events.filter((e): e is Extract<AgentEvent, { kind: K }> => e.kind === kind);

describe("OpenCode parser (recorded real OpenCode 1.18 events)", () => {
  it("streams a text answer and ends the turn with usage", () => {
    const events = parseAll(fixture("text-answer"));
    const text = completed(events).find((b) => b.type === "assistant_text");
    expect(text).toMatchObject({ content: "You said: hello there", model: "mock" });
    const deltas = events.filter((e) => e.kind === "block_delta" && e.blockId === text?.id);
    expect(deltas.map((d) => (d as { delta: string }).delta).join("")).toBe("You said: hello there");
    const [usage] = of(events, "usage");
    expect(usage?.usage.inputTokens).toBeGreaterThan(0);
    // The user's own prompt is not rendered.
    expect(completed(events).some((b) => b.type === "assistant_text" && b.content === "hello there")).toBe(
      false,
    );
    for (const block of completed(events)) expect(blockSchema.safeParse(block).success).toBe(true);
  });

  it("reports tool use and results with status, in order", () => {
    const events = parseAll(fixture("write-bash-tools"));
    const blocks = completed(events);
    const tools = blocks.filter((b) => b.type === "tool_use");
    expect(tools.map((t) => [t.toolName, t.status])).toEqual([
      ["write", "success"],
      ["bash", "error"],
    ]);
    const bash = tools[1]!;
    const result = blocks.find((b) => b.type === "tool_result" && b.toolUseId === bash.toolUseId);
    expect(result).toMatchObject({ isError: true, id: `${bash.id}:result` });
    expect((result as { content: string }).content).toContain("hello");
    const start = events.findIndex((e) => e.kind === "block_start" && e.block.id === bash.id);
    const resultAt = events.findIndex((e) => e.kind === "block_start" && e.block.id === result?.id);
    const done = events.findIndex((e) => e.kind === "block_complete" && e.block.id === bash.id);
    expect(start).toBeLessThan(resultAt);
    expect(resultAt).toBeLessThan(done);
    expect(blocks.at(-1)).toMatchObject({ type: "assistant_text" });
  });

  it("turns reasoning into thinking", () => {
    const blocks = completed(parseAll(fixture("thinking")));
    expect(blocks.find((b) => b.type === "thinking")).toMatchObject({
      content: "The user wants a short answer.",
    });
  });

  it("renders a task call as a subagent whose child-session blocks carry its id", () => {
    const events = parseAll(fixture("subagent-task"));
    const [discovered] = of(events, "subagent_discovered");
    expect(discovered?.subagent).toMatchObject({ name: "general", description: "List files" });
    const id = discovered!.subagent.id;
    expect(of(events, "subagent_completed")).toEqual([
      { kind: "subagent_completed", subagentId: id, status: "completed" },
    ]);
    const blocks = completed(events);
    expect(blocks.find((b) => b.type === "subagent")).toMatchObject({
      subagentId: id,
      output: "Files listed.",
      status: "completed",
    });
    const inner = blocks.filter((b) => b.subagentId === id && b.type !== "subagent");
    expect(inner.map((b) => b.type)).toEqual(
      expect.arrayContaining(["tool_use", "tool_result", "assistant_text"]),
    );
    expect(blocks.filter((b) => b.type === "assistant_text" && !b.subagentId).at(-1)).toMatchObject({
      content: "The subagent listed the files.",
    });
  });

  it("shows no error block for an aborted turn", () => {
    const events = parseAll(fixture("interrupted"));
    expect(completed(events).some((b) => b.type === "error")).toBe(false);
  });

  it("emits the native session id once", () => {
    const events = parseAll([...fixture("text-answer"), ...fixture("thinking")]);
    expect(of(events, "native_session")).toHaveLength(1);
  });

  it("never throws on malformed input and yields error blocks", () => {
    const parser = createOpenCodeParser();
    for (const bad of [
      null,
      42,
      "x",
      [],
      {},
      { type: 1 },
      { type: "message.part.updated" },
      { type: "message.part.updated", properties: { part: 3 } },
      { type: "session.created", properties: {} },
      { type: "message.part.delta", properties: { partID: 1 } },
    ]) {
      const events = parser.parse(bad);
      expect(events.some((e) => e.kind === "block_start" && e.block.type === "error")).toBe(true);
    }
    expect(parser.parse({ type: "some.future.event", properties: {} })).toEqual([]);
  });

  it("completes open blocks of a truncated stream on flush", () => {
    const messages = fixture("write-bash-tools");
    const cut = messages.findIndex((m) => JSON.stringify(m).includes('"status":"running"'));
    const parser = createOpenCodeParser();
    const events = [...messages.slice(0, cut + 1).flatMap((m) => parser.parse(m)), ...parser.flush()];
    const started = events
      .filter((e) => e.kind === "block_start")
      .map((e) => (e as { block: { id: string } }).block.id);
    const done = new Set(completed(events).map((b) => b.id));
    for (const id of started) expect(done.has(id)).toBe(true);
    expect(completed(events).find((b) => b.type === "tool_use")).toMatchObject({ status: "error" });
  });
});
