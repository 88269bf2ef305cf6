import { z } from "zod";
import { blockSchema } from "./blocks.js";

export const architectureSchema = z.enum(["claude-agent-sdk", "opencode"]);
export type Architecture = z.infer<typeof architectureSchema>;

export const sessionOptionsSchema = z
  .object({
    model: z.string().min(1).optional(),
  })
  .catchall(z.unknown());
export type SessionOptions = z.infer<typeof sessionOptionsSchema>;

/**
 * Sandbox lifecycle as clients see it: `pending` (no sandbox yet, the lazy
 * default), `creating`, `running`, `terminated` (torn down; the next message
 * brings it back), `error`.
 */
export const sandboxStatusSchema = z.enum(["pending", "creating", "running", "terminated", "error"]);
export type SandboxStatus = z.infer<typeof sandboxStatusSchema>;

export const runtimeStateSchema = z.object({
  sandboxStatus: sandboxStatusSchema,
  sandboxId: z.string().optional(),
  /** Process id of the runner inside the sandbox; stays the same while the agent process is reused. */
  agentPid: z.number().int().optional(),
  /** True while a turn runs. */
  busy: z.boolean(),
  lastActivityAt: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type RuntimeState = z.infer<typeof runtimeStateSchema>;

export const usageSchema = z.object({
  inputTokens: z.number().nonnegative(),
  outputTokens: z.number().nonnegative(),
  cacheReadTokens: z.number().nonnegative(),
  cacheCreationTokens: z.number().nonnegative(),
  costUsd: z.number().nonnegative(),
});
export type Usage = z.infer<typeof usageSchema>;

export const workspaceFileSchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  modifiedAt: z.string(),
});
export type WorkspaceFile = z.infer<typeof workspaceFileSchema>;

export const subagentSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(["running", "completed", "failed"]),
  description: z.string().optional(),
  startedAt: z.string(),
  completedAt: z.string().optional(),
});
export type Subagent = z.infer<typeof subagentSchema>;

/** Persistent facts about a session (what an adapter stores in its session row). */
export const sessionRecordSchema = z.object({
  sessionId: z.string(),
  agentProfileRef: z.string(),
  architecture: architectureSchema,
  sessionOptions: sessionOptionsSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Last event sequence number issued. */
  lastSeq: z.number().int().nonnegative(),
  /** Architecture-native session id (e.g. Claude Code's), used to resume natively. */
  nativeSessionId: z.string().optional(),
  usage: usageSchema,
  title: z.string().optional(),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

export const sessionSummarySchema = sessionRecordSchema.extend({
  runtime: runtimeStateSchema,
});
export type SessionSummary = z.infer<typeof sessionSummarySchema>;

/** Everything `GET /sessions/:id` returns. */
export const sessionDataSchema = sessionSummarySchema.extend({
  blocks: z.array(blockSchema),
  files: z.array(workspaceFileSchema),
  subagents: z.array(subagentSchema),
});
export type SessionData = z.infer<typeof sessionDataSchema>;
