import { z } from "zod";
import { blockSchema } from "./blocks.js";
import {
  permissionRequestSchema,
  runtimeStateSchema,
  sessionIdRefSchema,
  sessionOptionsSchema,
  sessionSummarySchema,
  subagentSchema,
  usageSchema,
  workspaceFileSchema,
} from "./session.js";

/**
 * Every session event carries the envelope `{type, sessionId, seq, timestamp}`
 * plus its own fields. `seq` is per session, starts at 1 and grows by exactly
 * one per event, so a client that remembers the last `seq` it saw can resume
 * without gap or duplicate. On the socket the event name equals `type`.
 */
const envelope = {
  sessionId: z.string(),
  seq: z.number().int().positive(),
  timestamp: z.string(),
};

/** Why a turn ended: in `session:turn:completed` and in the runner's `turn_end` line. */
export const turnStopReasonSchema = z.enum(["end_turn", "interrupted", "error", "max_turns"]);
export type TurnStopReason = z.infer<typeof turnStopReasonSchema>;

/** Why a permission request was resolved. */
export const permissionResolutionSchema = z.enum([
  /** A person answered. */
  "answered",
  /** Allowed by an earlier "always" answer for the same tool. */
  "always",
  /** Nobody answered in time: denied. */
  "expired",
  /** The turn ended (interrupt, agent exit, shutdown) first: denied. */
  "cancelled",
]);
export type PermissionResolution = z.infer<typeof permissionResolutionSchema>;

export const sessionEventSchema = z.discriminatedUnion("type", [
  z.object({ ...envelope, type: z.literal("session:block:start"), block: blockSchema }),
  z.object({ ...envelope, type: z.literal("session:block:delta"), blockId: z.string(), delta: z.string() }),
  z.object({
    ...envelope,
    type: z.literal("session:block:update"),
    blockId: z.string(),
    updates: z.record(z.string(), z.unknown()),
  }),
  z.object({
    ...envelope,
    type: z.literal("session:block:complete"),
    blockId: z.string(),
    block: blockSchema,
  }),
  z.object({ ...envelope, type: z.literal("session:status"), runtime: runtimeStateSchema }),
  /** The session's options changed (`PATCH /sessions/:id`); the agent runs with them from the next turn. */
  z.object({ ...envelope, type: z.literal("session:options:update"), sessionOptions: sessionOptionsSchema }),
  z.object({
    ...envelope,
    type: z.literal("session:metadata:update"),
    usage: usageSchema,
    turnUsage: usageSchema.optional(),
    /** True when figures are the agent's estimates rather than billed amounts. */
    estimated: z.boolean(),
  }),
  z.object({
    ...envelope,
    type: z.literal("session:file:created"),
    file: workspaceFileSchema.extend({ content: z.string().optional() }),
  }),
  z.object({
    ...envelope,
    type: z.literal("session:file:modified"),
    file: workspaceFileSchema.extend({ content: z.string().optional() }),
  }),
  z.object({ ...envelope, type: z.literal("session:file:deleted"), path: z.string() }),
  z.object({ ...envelope, type: z.literal("session:subagent:discovered"), subagent: subagentSchema }),
  z.object({
    ...envelope,
    type: z.literal("session:subagent:completed"),
    subagentId: z.string(),
    status: subagentSchema.shape.status,
  }),
  z.object({
    ...envelope,
    type: z.literal("session:permission:requested"),
    request: permissionRequestSchema,
  }),
  z.object({
    ...envelope,
    type: z.literal("session:permission:resolved"),
    requestId: z.string(),
    decision: z.enum(["allow", "deny"]),
    reason: permissionResolutionSchema,
  }),
  z.object({
    ...envelope,
    type: z.literal("session:turn:started"),
    turnId: z.string(),
    content: z.string(),
  }),
  z.object({
    ...envelope,
    type: z.literal("session:turn:completed"),
    turnId: z.string(),
    stopReason: turnStopReasonSchema,
  }),
  z.object({
    ...envelope,
    type: z.literal("error"),
    code: z.string(),
    message: z.string(),
  }),
]);

export type SessionEvent = z.infer<typeof sessionEventSchema>;
export type SessionEventType = SessionEvent["type"];
export type SessionEventOf<T extends SessionEventType> = Extract<SessionEvent, { type: T }>;

/** An event before the session stamps it with its envelope. */
export type SessionEventInput = SessionEvent extends infer E
  ? E extends SessionEvent
    ? Omit<E, "sessionId" | "seq" | "timestamp">
    : never
  : never;

export const sessionEventTypes = sessionEventSchema.options.map((o) => o.shape.type.value);

/** Socket: client → server. */
export const joinRequestSchema = z.object({
  sessionId: sessionIdRefSchema,
  /** Last `seq` the client has seen; the server replays everything after it. */
  afterSeq: z.number().int().nonnegative().optional(),
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;

export const leaveRequestSchema = z.object({ sessionId: sessionIdRefSchema });

/**
 * Socket: why the server refused an event. `retryAfter` (seconds) comes with
 * `RATE_LIMITED`: the caller's events are over its rate, and the same event
 * is admitted again after that long.
 */
export interface SocketError {
  code: string;
  message: string;
  retryAfter?: number;
}

/**
 * Socket: server → one socket, `error` with this payload when the server
 * refuses an event sent without an acknowledgement callback (with one, the
 * acknowledgement carries the `SocketError`). Unlike a session's `error`
 * event it has no `sessionId` and no `seq`; `event` names the refused event.
 */
export interface SocketErrorEvent extends SocketError {
  event: string;
}

/**
 * Socket acknowledgement of `session:join`, sent once the replay is delivered
 * and live events follow (`lastSeq` is the last event replayed or already
 * held). A later `session:join` or `session:leave` of the same session
 * replaces a join whose replay is still running: that one is answered
 * `CONFLICT`.
 */
export type JoinAck =
  | { ok: true; sessionId: string; lastSeq: number; replayed: number; snapshot: boolean }
  | { ok: false; error: SocketError };

/**
 * Socket: the live session list. A client emits `sessions:subscribe` (no
 * payload) and gets a `SessionListAck` holding the newest sessions (the
 * first page of `GET /sessions`); from then on,
 * until `sessions:unsubscribe` or disconnect, the server emits
 * `sessions:updated` whenever a session is created or its summary changes
 * (status, activity, usage, title) and `sessions:deleted` when one is
 * destroyed. Everything emitted after the list was read arrives after the
 * acknowledgement, so applying the list and then the events in order is
 * consistent. Subscribe again after every reconnect.
 */
export const sessionsUpdatedEventSchema = z.object({ session: sessionSummarySchema });
export type SessionsUpdatedEvent = z.infer<typeof sessionsUpdatedEventSchema>;

export const sessionsDeletedEventSchema = z.object({ sessionId: z.string() });
export type SessionsDeletedEvent = z.infer<typeof sessionsDeletedEventSchema>;

/** Socket acknowledgement of `sessions:subscribe`. */
export type SessionListAck =
  | { ok: true; sessions: SessionsUpdatedEvent["session"][] }
  | { ok: false; error: SocketError };
