import { createHash } from "node:crypto";
import type { Block, SessionRecord } from "@agent-runtime/protocol";
import type { StoredFile } from "@agent-runtime/server";

/** Blocks one simulated turn produces: user message, assistant text, tool use, tool result, assistant text. */
export const blocksPerTurn = 5;

const words = (
  "the session agent runtime block stream tool result file workspace sandbox model token cache " +
  "function return const await import export interface type string number error value index query " +
  "insert update select order limit commit branch test build lint refactor parser event socket"
).split(" ");

/**
 * Deterministic content of a simulated coding session, so every run writes
 * the same bytes. Text is drawn from a small vocabulary with a seeded PRNG:
 * about as compressible as prose, unlike a repeated string (which PostgreSQL's
 * TOAST compression would make unrealistically cheap).
 */
export function createSessionWorkload(sessionId: string, seed: number) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const text = (bytes: number) => {
    const parts: string[] = [];
    let length = 0;
    while (length < bytes) {
      const word = words[Math.floor(random() * words.length)]!;
      parts.push(word);
      length += word.length + 1;
    }
    return parts.join(" ");
  };
  const start = Date.parse("2024-01-01T00:00:00.000Z");
  const timestamp = (order: number) => new Date(start + order * 1_000).toISOString();

  /** The block at position `order`; positions cycle through the turn's five kinds. */
  function block(order: number): Block {
    const id = `${sessionId}-block-${order}`;
    const toolUseId = `toolu_${sessionId}_${order - (order % blocksPerTurn)}`;
    const base = { id, timestamp: timestamp(order) };
    switch (order % blocksPerTurn) {
      case 0:
        return { ...base, type: "user_message", content: text(200) };
      case 1:
        return { ...base, type: "assistant_text", content: text(1_500), model: "claude-sonnet-4" };
      case 2:
        return {
          ...base,
          type: "tool_use",
          toolName: "Read",
          input: { file_path: `/workspace/src/module-${order % 97}.ts`, limit: 200 },
          toolUseId,
          status: "success",
        };
      case 3:
        return { ...base, type: "tool_result", toolUseId, content: text(1_200) };
      default:
        return { ...base, type: "assistant_text", content: text(800), model: "claude-sonnet-4" };
    }
  }

  function file(index: number): StoredFile {
    const content = Buffer.from(text(2_000));
    return {
      path: `src/module-${index}.ts`,
      size: content.length,
      sha256: createHash("sha256").update(content).digest("hex"),
      modifiedAt: timestamp(index),
      content,
    };
  }

  function record(blockCount: number): SessionRecord {
    return {
      sessionId,
      agentProfileRef: "default",
      architecture: "claude-agent-sdk",
      sessionOptions: { model: "claude-sonnet-4", permissions: { mode: "bypass" } },
      createdAt: timestamp(0),
      updatedAt: timestamp(blockCount),
      lastSeq: blockCount * 40,
      nativeSessionId: `native-${sessionId}`,
      usage: {
        inputTokens: blockCount * 900,
        outputTokens: blockCount * 120,
        cacheReadTokens: blockCount * 4_000,
        cacheCreationTokens: blockCount * 300,
        costUsd: blockCount * 0.002,
      },
      title: "Refactor the parser and add tests",
      pendingPermissions: [],
    };
  }

  return { block, file, record };
}
