import { z } from "zod";
import { acpAgentCommandSchema } from "./agents/acp.js";
import { blockSchema } from "./blocks.js";

/**
 * `codex` (OpenAI's Codex) and `gemini` (Gemini CLI) run over the Agent
 * Client Protocol; `acp`: any ACP agent the profile or session names.
 */
export const architectureSchema = z.enum(["claude-agent-sdk", "opencode", "codex", "gemini", "acp"]);
export type Architecture = z.infer<typeof architectureSchema>;

/**
 * How tool calls are approved. `bypass`: the agent runs every tool without
 * asking. `ask`: each call of the listed tools (all tools when `tools` is
 * omitted) waits for a person's answer (`session:permission:requested`);
 * unanswered requests expire and are denied.
 */
export const permissionPolicySchema = z.object({
  mode: z.enum(["bypass", "ask"]),
  tools: z.array(z.string().min(1).max(200)).max(200).optional(),
});
export type PermissionPolicy = z.infer<typeof permissionPolicySchema>;

/**
 * What a client chooses for a session at creation. Strict: an unknown field
 * is refused (`VALIDATION_FAILED` naming it), never stored.
 */
export const sessionOptionsSchema = z.strictObject({
  model: z.string().min(1).max(200).optional(),
  /** Overrides the profile's permission policy. */
  permissions: z.strictObject(permissionPolicySchema.shape).optional(),
  /** The ACP agent command of an `acp` session (overrides the profile's `acp`). */
  acp: acpAgentCommandSchema.optional(),
});
export type SessionOptions = z.infer<typeof sessionOptionsSchema>;

/**
 * A change of a session's options (`PATCH /sessions/:id`): each field given
 * replaces the session's, `null` removes it (back to the profile's), an
 * absent field stays as it is.
 */
export const sessionOptionsPatchSchema = z.strictObject({
  model: sessionOptionsSchema.shape.model.unwrap().nullable().optional(),
  permissions: sessionOptionsSchema.shape.permissions.unwrap().nullable().optional(),
});
export type SessionOptionsPatch = z.infer<typeof sessionOptionsPatchSchema>;

/**
 * `sessionOptions` as stored: the same fields, without the bounds of a
 * request; fields a record stored before options were strict may hold are
 * dropped when it is read.
 */
const storedSessionOptionsSchema = z.object({
  model: z.string().min(1).optional(),
  permissions: z
    .object({ mode: permissionPolicySchema.shape.mode, tools: z.array(z.string()).optional() })
    .optional(),
  acp: acpAgentCommandSchema.optional(),
});

/**
 * Sandbox lifecycle as clients see it: `pending` (no sandbox yet, the lazy
 * default), `queued` (waiting for the runtime's admission control, which
 * bounds how many agents start at once; `queuePosition` says its place),
 * `preparing` (the profile's dependencies are being installed,
 * once for every session of the profile; `progress` says how far),
 * `creating`, `running`, `suspended` (idle: the agent's processes are
 * frozen, its sandbox and disk kept; the next message thaws it and the
 * agent goes on where it was; added after v1), `terminated` (torn down; the
 * next message brings it back), `error`.
 */
export const sandboxStatusSchema = z.enum([
  "pending",
  "queued",
  "preparing",
  "creating",
  "running",
  "suspended",
  "terminated",
  "error",
]);
export type SandboxStatus = z.infer<typeof sandboxStatusSchema>;

export const queuedMessageSchema = z.object({ turnId: z.string(), content: z.string() });
export type QueuedMessage = z.infer<typeof queuedMessageSchema>;

export const runtimeStateSchema = z.object({
  /** True while the session is loaded in a server process (false in listings of sessions at rest). */
  isLoaded: z.boolean(),
  sandboxStatus: sandboxStatusSchema,
  sandboxId: z.string().optional(),
  /** Process id of the runner inside the sandbox; stays the same while the agent process is reused. */
  agentPid: z.number().int().optional(),
  /** True while a turn runs. */
  busy: z.boolean(),
  /** The running turn. */
  currentTurnId: z.string().optional(),
  /** Messages waiting for the running turn to end, in order. */
  queuedMessages: z.array(queuedMessageSchema),
  lastActivityAt: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** While `queued`: the session's place among the starts waiting (1 = next). */
  queuePosition: z.number().int().positive().optional(),
  /** While `preparing`: the last line the installer printed. */
  progress: z.string().max(500).optional(),
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
  /** Set when the file is a symbolic link: what it points to, as written (relative or absolute, anywhere). */
  linkTarget: z.string().optional(),
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

/** A tool call waiting for a person's decision. */
export const permissionRequestSchema = z.object({
  requestId: z.string(),
  toolName: z.string(),
  input: z.unknown(),
  /** The agent's id of the tool call, when it gives one. */
  toolUseId: z.string().optional(),
  /** A sentence describing the call, when the agent gives one. */
  title: z.string().optional(),
  requestedAt: z.string(),
  /** After this instant the request is denied. */
  expiresAt: z.string(),
});
export type PermissionRequest = z.infer<typeof permissionRequestSchema>;

/**
 * A session id as a client names one (in a path, a query or a socket
 * event): 1 to 200 characters, none of them a control character. The
 * server issues UUIDs; the bound keeps hostile text (a NUL, which
 * PostgreSQL's text cannot hold, or a megabyte) away from storage.
 */
export const sessionIdRefSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^\P{Cc}+$/u, "A session id holds no control characters");

/**
 * A tenant's id: 1 to 64 letters, digits, `.`, `_` or `-` (so it never
 * holds the `:` and `,` of a `TENANT:KEY` list).
 */
export const tenantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, "A tenant id is 1 to 64 letters, digits, '.', '_' or '-'");

/** Persistent facts about a session (what an adapter stores in its session row). */
export const sessionRecordSchema = z.object({
  sessionId: z.string(),
  /**
   * The tenant that owns the session: only its keys and admin keys reach
   * it. Absent: the session belongs to no tenant, and only admin keys reach
   * it (sessions created by an admin key without a tenant, and every session
   * stored before tenants existed).
   */
  tenantId: z.string().optional(),
  agentProfileRef: z.string(),
  architecture: architectureSchema,
  sessionOptions: storedSessionOptionsSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Last event sequence number issued. */
  lastSeq: z.number().int().nonnegative(),
  /** Architecture-native session id (e.g. Claude Code's), used to resume natively. */
  nativeSessionId: z.string().optional(),
  usage: usageSchema,
  title: z.string().optional(),
  /**
   * Permission requests open at the last sync. A server that loads the
   * session finds no agent waiting for them and resolves them as expired.
   */
  pendingPermissions: z.array(permissionRequestSchema).optional(),
  /**
   * The turn running at the last sync. A server that loads the session with
   * one set was stopped during that turn, and closes it with `SERVER_RESTARTED`.
   */
  openTurnId: z.string().optional(),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

export const sessionSummarySchema = sessionRecordSchema.extend({
  runtime: runtimeStateSchema,
});
export type SessionSummary = z.infer<typeof sessionSummarySchema>;

/** Everything `GET /sessions/:id` returns. */
export const sessionDataSchema = sessionSummarySchema.extend({
  /** The main conversation in start order: its newest blocks when `hasOlderBlocks`, else all of them. */
  blocks: z.array(blockSchema),
  /**
   * True when `blocks` holds only the newest blocks (`GET /sessions/:id`
   * includes at most `blocksLimit`): older ones are paged with
   * `GET /sessions/:id/blocks?before=<blocks[0].id>`. Absent means false.
   */
  hasOlderBlocks: z.boolean().optional(),
  files: z.array(workspaceFileSchema),
  subagents: z.array(subagentSchema),
  pendingPermissions: z.array(permissionRequestSchema),
});
export type SessionData = z.infer<typeof sessionDataSchema>;
