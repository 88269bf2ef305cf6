import { readFileSync } from "node:fs";
import type { Block } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "../agent-architecture.js";
import { createAcpParser } from "./parser.js";

const NOW = () => new Date("2026-01-01T00:00:00.000Z");
/** Real Codex output (codex-acp 0.16 against the mock model): a thought, text, two commands (one failing), a plan. */
const fixture = readFileSync(new URL("../codex/__fixtures__/write-plan.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as unknown);

function parseAll(messages: readonly unknown[]): AgentEvent[] {
  const parser = createAcpParser({ now: NOW });
  return [...messages.flatMap((message) => parser.parse(message)), ...parser.flush()];
}
const completed = (events: AgentEvent[]) =>
  events.flatMap((event) => (event.kind === "block_complete" ? [event.block] : []));

describe("ACP parser", () => {
  it("turns a recorded Codex turn into thinking, text, tool calls with results, and a plan", () => {
    const events = parseAll(fixture);
    const blocks = completed(events);
    expect(blocks.map((block) => block.type)).toEqual([
      "system",
      "thinking",
      "assistant_text",
      "tool_result",
      "tool_use",
      "tool_result",
      "tool_use",
      "assistant_text",
      "system",
      "assistant_text",
    ]);
    // A settled call's result completes before the call itself (see BlockTracker.settleTool).
    const [init, thinking, text, written, write, failed, failing] = blocks as [Block, ...Block[]];
    expect(init).toMatchObject({ subtype: "init", content: expect.stringContaining("codex-acp 0.16.0") });
    expect(thinking).toMatchObject({ content: "\n\nI should write the file with a shell command." });
    expect(text).toMatchObject({ content: "Writing it." });
    expect(write).toMatchObject({ toolName: "Bash", status: "success" });
    expect((write as Extract<Block, { type: "tool_use" }>).input).toMatchObject({
      command: ["/bin/bash", "-lc", "printf 'hello\\n' > notes.txt"],
    });
    expect(written).toMatchObject({ toolUseId: write?.id });
    expect(written).not.toHaveProperty("isError");
    expect(failing).toMatchObject({ toolName: "Bash", status: "error" });
    expect(failed).toMatchObject({ isError: true, content: expect.stringContaining("hello") });
    expect(blocks[8]).toMatchObject({
      subtype: "plan",
      content: "- [x] Look around\n- [~] Write code",
    });
    expect(events).toContainEqual({
      kind: "native_session",
      nativeSessionId: "01a24d25-2dc6-7382-b1ee-f821fc11f9aa",
    });
    // Text and thinking are streamed as deltas into their blocks.
    expect(events.filter((event) => event.kind === "block_delta")).toHaveLength(6);
  });

  it("numbers text blocks under the agent process's run id, so a restarted agent's blocks never collide", () => {
    const session = (run: string) => ({ type: "acp_session", sessionId: "s1", resumed: run !== "a", run });
    const chunk = {
      type: "acp_update",
      update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "hi" } },
    };
    const first = completed(parseAll([session("a"), chunk]));
    const second = completed(parseAll([session("b"), chunk]));
    const ids = [...first, ...second].map((block) => block.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(second.at(-1)).toMatchObject({ type: "assistant_text", id: "b:text:1", content: "hi" });
  });

  it("reports the token counts Gemini CLI gives in the prompt answer's _meta", () => {
    const events = parseAll([
      {
        type: "acp_prompt_end",
        stopReason: "end_turn",
        meta: { quota: { token_count: { input_tokens: 12, output_tokens: 5 } } },
      },
    ]);
    expect(events).toContainEqual({
      kind: "usage",
      usage: { inputTokens: 12, outputTokens: 5, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 },
      estimated: false,
    });
  });

  it("starts a new text block for a chunk of another message id", () => {
    const chunk = (messageId: string, text: string) => ({
      type: "acp_update",
      update: { sessionUpdate: "agent_message_chunk", messageId, content: { type: "text", text } },
    });
    const blocks = completed(parseAll([chunk("m1", "one "), chunk("m1", "two"), chunk("m2", "three")]));
    expect(blocks.map((block) => (block as { content: string }).content)).toEqual(["one two", "three"]);
  });

  it("renders a diff of an edit as the tool result and closes an unfinished call at the prompt's end", () => {
    const events = parseAll([
      {
        type: "acp_update",
        update: {
          sessionUpdate: "tool_call",
          toolCallId: "c1",
          title: "Edit a.txt",
          kind: "edit",
          status: "pending",
        },
      },
      {
        type: "acp_update",
        update: {
          sessionUpdate: "tool_call_update",
          toolCallId: "c1",
          status: "completed",
          content: [{ type: "diff", path: "/w/a.txt", oldText: null, newText: "new text" }],
        },
      },
      {
        type: "acp_update",
        update: { sessionUpdate: "tool_call", toolCallId: "c2", kind: "read", status: "in_progress" },
      },
      { type: "acp_prompt_end", stopReason: "cancelled" },
    ]);
    const blocks = completed(events);
    expect(blocks[0]).toMatchObject({ type: "tool_result", content: "Created /w/a.txt\nnew text" });
    expect(blocks[1]).toMatchObject({
      type: "tool_use",
      toolName: "Edit",
      input: { title: "Edit a.txt" },
      status: "success",
    });
    expect(blocks[2]).toMatchObject({ type: "tool_use", toolName: "Read", status: "error" });
  });
});
