import { describe, expect, it } from "vitest";
import {
  isAssistantTextBlock,
  isBlockOfType,
  isErrorBlock,
  isSubagentBlock,
  isSystemBlock,
  isThinkingBlock,
  isToolResultBlock,
  isToolUseBlock,
  isUserMessageBlock,
} from "./block-guards.js";
import { type Block, blockSchema, blockTypes } from "./blocks.js";

const at = "2026-01-01T00:00:00.000Z";
const one: { [T in Block["type"]]: Extract<Block, { type: T }> } = {
  user_message: { type: "user_message", id: "u", timestamp: at, content: "hi" },
  assistant_text: { type: "assistant_text", id: "a", timestamp: at, content: "hello" },
  tool_use: {
    type: "tool_use",
    id: "t",
    timestamp: at,
    toolName: "Bash",
    input: {},
    toolUseId: "t",
    status: "running",
  },
  tool_result: { type: "tool_result", id: "t:result", timestamp: at, toolUseId: "t", content: "ok" },
  thinking: { type: "thinking", id: "th", timestamp: at, content: "hmm" },
  system: { type: "system", id: "s", timestamp: at, content: "started" },
  subagent: {
    type: "subagent",
    id: "c:subagent",
    timestamp: at,
    subagentId: "c",
    name: "scout",
    status: "running",
  },
  error: { type: "error", id: "e", timestamp: at, message: "bad" },
};

describe("block type guards", () => {
  const guards = {
    user_message: isUserMessageBlock,
    assistant_text: isAssistantTextBlock,
    tool_use: isToolUseBlock,
    tool_result: isToolResultBlock,
    thinking: isThinkingBlock,
    system: isSystemBlock,
    subagent: isSubagentBlock,
    error: isErrorBlock,
  } as const;

  it("has one guard per block type, true for that type only", () => {
    expect(Object.keys(guards).sort()).toEqual([...blockTypes].sort());
    for (const type of blockTypes) {
      for (const other of blockTypes) {
        expect(guards[type](one[other]), `${type} guard on ${other}`).toBe(type === other);
        expect(isBlockOfType(one[other], type)).toBe(type === other);
      }
    }
  });

  it("narrows the block's type", () => {
    const blocks: Block[] = Object.values(one);
    const tools = blocks.filter(isToolUseBlock);
    // Compiles only because the guard narrows: `toolName` exists on tool_use blocks alone.
    expect(tools.map((t) => t.toolName)).toEqual(["Bash"]);
    const results = blocks.filter((b) => isBlockOfType(b, "tool_result"));
    expect(results.map((r) => r.toolUseId)).toEqual(["t"]);
  });
});

describe("block details", () => {
  it("loads blocks stored before the details existed, unchanged", () => {
    for (const block of Object.values(one)) expect(blockSchema.parse(block)).toEqual(block);
  });

  it("accepts a tool result's duration and a subagent's display name, summary and duration", () => {
    const result = { ...one.tool_result, durationMs: 1520 };
    expect(blockSchema.parse(result)).toEqual(result);
    const subagent = {
      ...one.subagent,
      status: "completed",
      displayName: "Scout",
      summary: "Found three files.",
      durationMs: 4200,
    };
    expect(blockSchema.parse(subagent)).toEqual(subagent);
  });

  it("refuses a negative or fractional duration", () => {
    for (const durationMs of [-1, 1.5, Number.NaN]) {
      expect(blockSchema.safeParse({ ...one.tool_result, durationMs }).success).toBe(false);
      expect(blockSchema.safeParse({ ...one.subagent, durationMs }).success).toBe(false);
    }
  });
});
