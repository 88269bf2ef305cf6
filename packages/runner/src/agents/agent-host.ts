import type { RunnerCommand } from "@agent-runtime/protocol";

/** An image sent with a user message, as base64. */
export type MessageImage = NonNullable<Extract<RunnerCommand, { type: "message" }>["images"]>[number];

import type { RunnerConfig, RunnerOutput } from "@agent-runtime/protocol";

export type TurnEnd = Extract<RunnerOutput, { type: "turn_end" }>;
export type PermissionRequestLine = Extract<RunnerOutput, { type: "permission_request" }>;

/** What a host reports; the runner turns it into protocol lines. */
export interface AgentHostEvents {
  /** One native agent message, relayed unchanged as an `agent` line. */
  message(message: unknown): void;
  /**
   * The turn of the last `send` finished. Called exactly once per `send`
   * (when the agent fails, before `failed`), unless `close` was called first.
   */
  turnEnd(end: TurnEnd): void;
  /** A tool call waits for `respondPermission` (only under `permissions.mode: "ask"`). */
  permissionRequest(request: PermissionRequestLine): void;
  /** Free-form diagnostics of the agent process (its stderr). */
  diagnostics(text: string): void;
  /**
   * The agent process is gone while it was expected to live. Called at most
   * once; the host has already ended the running turn with `error`.
   */
  failed(error: Error): void;
}

/**
 * One long-lived agent process inside the sandbox. A host holds at most one
 * turn and keeps no queue: the runner calls `send` only after `start` has
 * resolved and while no turn runs (after the previous turn's `turnEnd`), so
 * holding a message until the agent starts and refusing one that arrives
 * while a turn runs are the runner's part (see the runner protocol).
 */
export interface AgentHost {
  /** Starts the agent process and resolves once it accepts messages. Rejects if it cannot start. */
  start(): Promise<{ agentVersion?: string }>;
  /** Starts a turn with a user message (and its images); `turnEnd` reports its end under `turnId`. */
  send(turnId: string, content: string, images?: readonly MessageImage[]): void;
  /** Answers a `permissionRequest`; unknown or already answered ids are ignored. */
  respondPermission(requestId: string, decision: "allow" | "deny", message?: string): void;
  /** Stops the running turn (it ends with `interrupted`); a no-op when idle. */
  interrupt(): Promise<void>;
  /**
   * Does ahead, once started, what the agent otherwise does when its first
   * message comes (e.g. gathering its context), so that a first message
   * arriving later is answered sooner. Never calls the model. Optional.
   */
  warmUp?(): Promise<void>;
  /** Uses `model` from the next turn on (see the runner protocol's `set_model`). Absent: the agent cannot. */
  setModel?(model: string): Promise<void>;
  /** Ends the agent process. Idempotent; resolves once it has exited (or was killed after a grace period). */
  close(): Promise<void>;
}

export type AgentHostFactory = (config: RunnerConfig, events: AgentHostEvents) => AgentHost;
