import { createHash } from "node:crypto";
import type { Conversation } from "./conversation.js";
import type { Pacing, Reply } from "./schema.js";

/** One content block of a model response, protocol-neutral. */
export type ResponseBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

/** What the adapters stream or send: the blocks, why the turn stops, usage and pacing. */
export interface ModelResponse {
  blocks: ResponseBlock[];
  stopReason: "end_turn" | "tool_use";
  usage: { inputTokens: number; outputTokens: number };
  chunkDelayMs: number;
  chunkSize: number;
  /** Streamed chunks sent before the stream stalls (see `pacingSchema`); undefined: it never does. */
  stallAfterChunks: number | undefined;
}

const DEFAULT_CHUNK_SIZE = 24;
const MOCK_SIGNATURE = "mock-model-signature";
const TOOL_ALIASES: Record<string, string> = { Task: "Agent", Agent: "Task" };

/**
 * Turns a script reply into the response for this conversation: fills the
 * `{{cwd}}` / `{{prompt}}` placeholders, maps a tool name to its offered
 * alias, derives tool-use ids (stable for the same conversation, so a
 * retried or resumed request gets the same ids) and estimates usage.
 */
export function buildResponse(
  reply: Reply,
  conversation: Conversation,
  defaults: Pacing = {},
): ModelResponse {
  const fill = (text: string) => fillPlaceholders(text, conversation);
  const blocks = reply.steps.map((step, index): ResponseBlock => {
    if ("text" in step) return { type: "text", text: fill(step.text) };
    if ("thinking" in step) {
      return { type: "thinking", thinking: fill(step.thinking), signature: step.signature ?? MOCK_SIGNATURE };
    }
    return {
      type: "tool_use",
      id: step.id ?? toolUseId(conversation, index),
      name: offeredToolName(step.tool, conversation.tools),
      input: fillDeep(step.input, fill) as Record<string, unknown>,
    };
  });
  const outputChars = blocks.reduce((sum, block) => sum + JSON.stringify(block).length, 0);
  return {
    blocks,
    stopReason: blocks.some((block) => block.type === "tool_use") ? "tool_use" : "end_turn",
    usage: {
      inputTokens: reply.usage?.inputTokens ?? Math.max(1, Math.ceil(conversation.inputChars / 4)),
      outputTokens: reply.usage?.outputTokens ?? Math.max(1, Math.ceil(outputChars / 4)),
    },
    chunkDelayMs: reply.chunkDelayMs ?? defaults.chunkDelayMs ?? 0,
    chunkSize: reply.chunkSize ?? defaults.chunkSize ?? DEFAULT_CHUNK_SIZE,
    stallAfterChunks: reply.stallAfterChunks,
  };
}

/** Splits text into the chunks a streamed block is sent in; never returns an empty list. */
export function chunkText(text: string, size: number): string[] {
  if (text.length <= size) return [text];
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks;
}

function offeredToolName(name: string, offered: string[]): string {
  const alias = TOOL_ALIASES[name];
  if (alias && !offered.includes(name) && offered.includes(alias)) return alias;
  return name;
}

function toolUseId(conversation: Conversation, index: number): string {
  const digest = createHash("sha256").update(conversation.prompt).digest("hex").slice(0, 12);
  return `toolu_mock_${digest}_${conversation.promptIndex + 1}_${conversation.position}_${index}`;
}

function fillPlaceholders(text: string, conversation: Conversation): string {
  return text
    .replaceAll("{{cwd}}", workingDirectory(conversation.system) ?? ".")
    .replaceAll("{{prompt}}", conversation.prompt);
}

function fillDeep(value: unknown, fill: (text: string) => string): unknown {
  if (typeof value === "string") return fill(value);
  if (Array.isArray(value)) return value.map((item) => fillDeep(item, fill));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fillDeep(item, fill)]));
  }
  return value;
}

/** The working directory Claude Code states in its environment section (Codex in its `<cwd>` element, Gemini CLI in its workspace list), if any. */
function workingDirectory(system: string): string | undefined {
  const stated = /(?:Primary working directory|Working directory): *(\S.*)/.exec(system)?.[1]?.trim();
  const codex = /<cwd>([^<\n]+)<\/cwd>/.exec(system)?.[1]?.trim();
  // Gemini CLI lists its workspace directories in its session context.
  return stated ?? codex ?? /\*\*Workspace Directories:\*\*\s*\n\s*- (\S+)/.exec(system)?.[1];
}
