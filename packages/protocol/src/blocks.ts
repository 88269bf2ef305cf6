import { z } from "zod";
import { recordedAttachmentSchema } from "./attachments.js";

/**
 * Blocks are the typed units an agent's output is parsed into. Every block has
 * `type`, `id` and `timestamp` (ISO 8601). Blocks stream as
 * `block_start` → `text_delta`* → `block_update`* → `block_complete`.
 */
const blockBase = {
  id: z.string().min(1),
  timestamp: z.string(),
  /**
   * Set when the block belongs to a subagent run (the subagent's id). On a
   * `subagent` block it is the block's own subagent id instead; nesting is
   * told by `parentSubagentId` there.
   */
  subagentId: z.string().optional(),
};

export const userMessageBlockSchema = z.object({
  ...blockBase,
  type: z.literal("user_message"),
  content: z.string(),
  /** The message's images and files, as stored in the workspace. */
  attachments: z.array(recordedAttachmentSchema).optional(),
});

export const assistantTextBlockSchema = z.object({
  ...blockBase,
  type: z.literal("assistant_text"),
  content: z.string(),
  model: z.string().optional(),
});

export const toolUseStatusSchema = z.enum(["pending", "running", "success", "error"]);

export const toolUseBlockSchema = z.object({
  ...blockBase,
  type: z.literal("tool_use"),
  toolName: z.string(),
  /** Tool input as the agent sent it. While streaming it may be `{}` until the input is complete. */
  input: z.unknown(),
  /** The agent's own id for this call; `tool_result.toolUseId` refers to it. */
  toolUseId: z.string(),
  status: toolUseStatusSchema,
});

export const toolResultBlockSchema = z.object({
  ...blockBase,
  type: z.literal("tool_result"),
  toolUseId: z.string(),
  content: z.string(),
  isError: z.boolean().optional(),
  /** Milliseconds from the start of the tool_use block to this result, measured by the server. */
  durationMs: z.number().int().nonnegative().optional(),
});

export const thinkingBlockSchema = z.object({
  ...blockBase,
  type: z.literal("thinking"),
  content: z.string(),
});

export const systemBlockSchema = z.object({
  ...blockBase,
  type: z.literal("system"),
  content: z.string(),
  subtype: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const subagentStatusSchema = z.enum(["running", "completed", "failed"]);

export const subagentBlockSchema = z.object({
  ...blockBase,
  type: z.literal("subagent"),
  /** Equals the `toolUseId` of the tool call that started the subagent. */
  subagentId: z.string(),
  /** Set when this subagent was started by another subagent. */
  parentSubagentId: z.string().optional(),
  name: z.string(),
  status: subagentStatusSchema,
  prompt: z.string().optional(),
  description: z.string().optional(),
  output: z.string().optional(),
  /** `name` for people: e.g. "Code reviewer" for `code-reviewer`. */
  displayName: z.string().optional(),
  /** The first line of `output`, shortened: a one-line account of what the subagent reported. */
  summary: z.string().optional(),
  /** Milliseconds from the subagent's start to its end, measured by the server; set once it ended. */
  durationMs: z.number().int().nonnegative().optional(),
});

export const errorBlockSchema = z.object({
  ...blockBase,
  type: z.literal("error"),
  message: z.string(),
  code: z.string().optional(),
});

export const blockSchema = z.discriminatedUnion("type", [
  userMessageBlockSchema,
  assistantTextBlockSchema,
  toolUseBlockSchema,
  toolResultBlockSchema,
  thinkingBlockSchema,
  systemBlockSchema,
  subagentBlockSchema,
  errorBlockSchema,
]);

export const blockTypes = [
  "user_message",
  "assistant_text",
  "tool_use",
  "tool_result",
  "thinking",
  "system",
  "subagent",
  "error",
] as const;

export type UserMessageBlock = z.infer<typeof userMessageBlockSchema>;
export type AssistantTextBlock = z.infer<typeof assistantTextBlockSchema>;
export type ToolUseBlock = z.infer<typeof toolUseBlockSchema>;
export type ToolUseStatus = z.infer<typeof toolUseStatusSchema>;
export type ToolResultBlock = z.infer<typeof toolResultBlockSchema>;
export type ThinkingBlock = z.infer<typeof thinkingBlockSchema>;
export type SystemBlock = z.infer<typeof systemBlockSchema>;
export type SubagentBlock = z.infer<typeof subagentBlockSchema>;
export type SubagentStatus = z.infer<typeof subagentStatusSchema>;
export type ErrorBlock = z.infer<typeof errorBlockSchema>;
export type Block = z.infer<typeof blockSchema>;
export type BlockType = Block["type"];
