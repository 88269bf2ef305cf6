import { z } from "zod";
import { acpAgentCommandSchema } from "./agents/acp.js";
import { imageMediaTypeSchema } from "./attachments.js";
import { turnStopReasonSchema } from "./events.js";
import { runnableMcpServerSchema } from "./profile.js";
import { architectureSchema, permissionPolicySchema } from "./session.js";

/**
 * The line protocol between the server and the runner inside a sandbox.
 * Each message is one JSON object on one line: commands on the runner's
 * stdin, output on its stdout. stderr is free-form diagnostics.
 *
 * Turns run one at a time. The runner holds at most one turn: the server
 * sends a `message` only while no turn is open, i.e. as the first one or
 * after the previous turn's `turn_end`. It may send the first `message`
 * right after starting the runner, before `ready`: the runner holds that
 * turn and hands it to the agent once the agent has started, which overlaps
 * the agent's start-up with the message. A `message` while a turn is open
 * (held or running) breaks the protocol: the runner answers it at once with
 * a `turn_end` for its `turnId`, stop reason `error`, and leaves the open
 * turn alone. Every `message` gets exactly one `turn_end`, unless the runner
 * writes `fatal` or is told to `shutdown` first.
 */

/** Written by the server to a runtime-owned file; its path is the runner's only argument. */
export const runnerConfigSchema = z.object({
  architecture: architectureSchema,
  /** Absolute path of the workspace inside the sandbox; the agent's working directory. */
  workspaceDir: z.string(),
  model: z.string().optional(),
  /** Appended to the agent's built-in system prompt. */
  systemPrompt: z.string().optional(),
  /**
   * The only tools the agent is offered and may call, as the architecture
   * names them (MCP tools as `mcp__<server>[__<tool>]`); absent: the agent's
   * defaults. The runner makes the agent refuse every other call.
   */
  allowedTools: z.array(z.string()).optional(),
  mcpServers: z.record(z.string(), runnableMcpServerSchema).default({}),
  /** Which tool calls wait for a decision (`permission_request` lines). @default bypass */
  permissions: permissionPolicySchema.default({ mode: "bypass" }),
  /** The ACP agent to run (architecture `acp`); the named ACP architectures know their own command. */
  acp: acpAgentCommandSchema.optional(),
  /** Native session id to resume (its transcript has been restored beforehand). */
  resumeSessionId: z.string().optional(),
  /** Report workspace changes as `file` lines; every change made before a `turn_end` is reported before it. */
  watchWorkspace: z.boolean().default(true),
  /** Paths (relative to the workspace) the watcher ignores. */
  watchIgnore: z.array(z.string()).default([".git", "node_modules"]),
});
export type RunnerConfig = z.infer<typeof runnerConfigSchema>;
export type RunnerConfigInput = z.input<typeof runnerConfigSchema>;

export const runnerCommandSchema = z.discriminatedUnion("type", [
  /** Start a turn; the server sends one only while no turn is open (see above). */
  z.object({
    type: z.literal("message"),
    turnId: z.string(),
    content: z.string(),
    /** Images the agent gets with the text, as base64. */
    images: z.array(z.object({ mediaType: imageMediaTypeSchema, data: z.string() })).optional(),
  }),
  /**
   * Stop the open turn: its `turn_end` says `interrupted` unless it ended
   * otherwise first; a turn the agent has not started yet ends at once.
   * Ignored when no turn is open.
   */
  z.object({ type: z.literal("interrupt") }),
  /** The decision on a `permission_request`. */
  z.object({
    type: z.literal("permission_response"),
    requestId: z.string(),
    decision: z.enum(["allow", "deny"]),
    message: z.string().optional(),
  }),
  /**
   * Use `model` from the next turn on (a warm pool's agent, started before
   * its session, takes the session's model so). Sent only while no turn is
   * open; a `message` read after it reaches the agent once the change is
   * made. A runner whose agent cannot change models live logs a warning.
   */
  z.object({ type: z.literal("set_model"), model: z.string().min(1).max(200) }),
  /** Close the agent and exit. */
  z.object({ type: z.literal("shutdown") }),
]);
export type RunnerCommand = z.infer<typeof runnerCommandSchema>;

/** Longest workspace path in a `file` line, in UTF-8 bytes (Linux's PATH_MAX). */
const MAX_PATH_BYTES = 4096;
/** Longest short string: turn, request and tool-use ids, tool names, versions, timestamps. */
const MAX_SHORT_LENGTH = 256;
/** Free text (log and error messages, titles) is cut after this many characters. */
const MAX_TEXT_LENGTH = 16_384;

const utf8 = new TextEncoder();

/**
 * True for a canonical workspace-relative path: not empty, at most
 * `MAX_PATH_BYTES`, no NUL, `/`-separated without a leading `/`, and no
 * empty, `.` or `..` segment. Nothing it names is outside the workspace.
 */
function isWorkspacePath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_PATH_BYTES || path.includes("\0")) return false;
  if (utf8.encode(path).byteLength > MAX_PATH_BYTES) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

const workspacePath = z.string().refine(isWorkspacePath, "must be a canonical workspace-relative path");
const shortString = z.string().min(1).max(MAX_SHORT_LENGTH);
/** A symbolic link's target: any text Linux takes as one (not empty, no NUL, at most `MAX_PATH_BYTES`). */
const linkTarget = z
  .string()
  .min(1)
  .refine(
    (target) => !target.includes("\0") && utf8.encode(target).byteLength <= MAX_PATH_BYTES,
    "must be a link target Linux accepts",
  );
const text = z
  .string()
  .transform((value) => (value.length > MAX_TEXT_LENGTH ? `${value.slice(0, MAX_TEXT_LENGTH)}…` : value));

/**
 * What the runner writes. Everything here comes from inside the sandbox and
 * is hostile input to the server: identifiers and paths are bounded (a line
 * failing the schema is invalid and ignored), free text is cut, and the
 * server bounds the size and rate of lines itself.
 */
export const runnerOutputSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), pid: z.number().int(), agentVersion: shortString.optional() }),
  /** One native message of the agent, unchanged. Parsing happens server-side. */
  z.object({ type: z.literal("agent"), message: z.unknown() }),
  /** A tool call waits for a `permission_response` with the same `requestId`. */
  z.object({
    type: z.literal("permission_request"),
    requestId: shortString,
    toolName: shortString,
    input: z.unknown(),
    toolUseId: shortString.optional(),
    title: text.optional(),
  }),
  /** The agent finished handling the message of `turnId`, or the runner refused it (see above). */
  z.object({
    type: z.literal("turn_end"),
    turnId: shortString,
    stopReason: turnStopReasonSchema,
    error: text.optional(),
  }),
  z.object({
    type: z.literal("file"),
    event: z.enum(["created", "modified", "deleted"]),
    /** Relative to the workspace (see `isWorkspacePath`). */
    path: workspacePath,
    size: z.number().int().nonnegative().optional(),
    modifiedAt: shortString.optional(),
    /** The target of a symbolic link (`size` is its length in bytes); absent for a regular file. */
    linkTarget: linkTarget.optional(),
  }),
  z.object({
    type: z.literal("log"),
    level: z.enum(["debug", "info", "warn", "error"]),
    message: text,
  }),
  /** The runner cannot go on; it exits after writing this. */
  z.object({ type: z.literal("fatal"), message: text }),
]);
export type RunnerOutput = z.infer<typeof runnerOutputSchema>;
