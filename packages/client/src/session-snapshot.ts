import type {
  Block,
  PermissionRequest,
  RuntimeState,
  SessionRecord,
  Subagent,
  TurnStopReason,
  WorkspaceFile,
} from "@agent-runtime/protocol";
import type { AgentRuntimeError } from "./agent-runtime-error.js";

/** The session's persistent facts; `lastSeq` lives on the snapshot itself. `usage` follows `session:metadata:update`. */
export type SessionMetadata = Omit<SessionRecord, "lastSeq">;

/** A message the server accepted while another turn ran; it leaves the list when its turn starts. */
export interface QueuedMessage {
  readonly turnId: string;
  readonly content: string;
}

/** An `error` event of the session. */
export interface SessionErrorEntry {
  readonly code: string;
  readonly message: string;
  readonly seq: number;
  readonly timestamp: string;
}

export interface TurnState {
  /** True between `session:turn:started` and `session:turn:completed` (after a load: `runtime.busy`). */
  readonly running: boolean;
  /** The running turn's id; unknown (undefined) when the run began before the client loaded. */
  readonly turnId: string | undefined;
  readonly lastStopReason: TurnStopReason | undefined;
}

/** `idle`: never loaded; `loading`: first load running; `ready`: data present; `error`: the load failed. */
export type LoadState = "idle" | "loading" | "ready" | "error";

/**
 * One session as the client knows it: an immutable value. Every change
 * produces a new snapshot object; fields that did not change keep their
 * identity, and inside `blocks`, `subagentBlocks` and `blocksById` every
 * block that did not change keeps its identity too.
 */
export interface SessionSnapshot {
  readonly sessionId: string;
  readonly loadState: LoadState;
  /** Why the last load or join failed; cleared by the next successful one. */
  readonly loadError: AgentRuntimeError | undefined;
  readonly metadata: SessionMetadata | undefined;
  readonly runtime: RuntimeState | undefined;
  /** True when `metadata.usage` holds the agent's estimates rather than billed figures. */
  readonly usageEstimated: boolean;
  /** The main conversation, in start order (completed and in flight); its newest part while `hasOlderBlocks`. */
  readonly blocks: readonly Block[];
  /** Older blocks of the main conversation exist on the server and are not loaded (`loadOlderBlocks`). */
  readonly hasOlderBlocks: boolean;
  /** Each subagent's transcript, in start order, by subagent id; filled by events and on demand. */
  readonly subagentBlocks: Readonly<Record<string, readonly Block[]>>;
  /** Every known block (main and subagent) by id. */
  readonly blocksById: Readonly<Record<string, Block>>;
  /** Blocks started (or receiving deltas) and not completed yet. */
  readonly inflightBlockIds: readonly string[];
  /** Workspace file index, sorted by path. */
  readonly files: readonly WorkspaceFile[];
  readonly subagents: readonly Subagent[];
  readonly pendingPermissions: readonly PermissionRequest[];
  readonly queuedMessages: readonly QueuedMessage[];
  readonly turn: TurnState;
  /** The latest `error` events (at most `MAX_KEPT_ERRORS`), oldest first. */
  readonly errors: readonly SessionErrorEntry[];
  /** The `seq` of the last event reflected in this snapshot (0 before the first load). */
  readonly lastSeq: number;
}

export const MAX_KEPT_ERRORS = 50;

export function emptySessionSnapshot(sessionId: string): SessionSnapshot {
  return {
    sessionId,
    loadState: "idle",
    loadError: undefined,
    metadata: undefined,
    runtime: undefined,
    usageEstimated: false,
    blocks: [],
    hasOlderBlocks: false,
    subagentBlocks: {},
    blocksById: {},
    inflightBlockIds: [],
    files: [],
    subagents: [],
    pendingPermissions: [],
    queuedMessages: [],
    turn: { running: false, turnId: undefined, lastStopReason: undefined },
    errors: [],
    lastSeq: 0,
  };
}
