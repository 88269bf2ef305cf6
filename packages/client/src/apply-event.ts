import {
  type Block,
  mergeBlockUpdate,
  type SessionEvent,
  type SessionEventOf,
  type WorkspaceFile,
} from "@agent-runtime/protocol";
import { putBlock } from "./block-list.js";
import { MAX_KEPT_ERRORS, type SessionSnapshot } from "./session-snapshot.js";

/**
 * A sequenced session event whose type this client's protocol version does
 * not define (a newer server's). It still takes a `seq`, so the store must
 * account for it to keep the sequence contiguous.
 */
export interface ExtensionEvent {
  readonly type: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly timestamp: string;
  readonly [field: string]: unknown;
}

/** Any sequenced event a session emits. */
export type WireEvent = SessionEvent | ExtensionEvent;

/**
 * Applies one event to a snapshot and returns the next one; pure. The caller
 * (`SessionStore`) guarantees `event.seq === state.lastSeq + 1`. Deltas and
 * updates for unknown blocks only advance `lastSeq`.
 */
export function applySessionEvent(state: SessionSnapshot, event: SessionEvent): SessionSnapshot {
  const next = reduce(state, event);
  return { ...next, lastSeq: event.seq };
}

/** Applies an event of a type this client does not know (a newer server's): it only advances `lastSeq`. */
export function applyExtensionEvent(state: SessionSnapshot, event: ExtensionEvent): SessionSnapshot {
  return { ...state, lastSeq: event.seq };
}

function reduce(state: SessionSnapshot, event: SessionEvent): SessionSnapshot {
  switch (event.type) {
    case "session:block:start":
      return {
        ...state,
        ...putBlock(state, event.block),
        inflightBlockIds: withId(state.inflightBlockIds, event.block.id),
      };
    case "session:block:delta":
      return applyDelta(state, event);
    case "session:block:update": {
      const block = state.blocksById[event.blockId];
      if (!block) return state;
      return { ...state, ...putBlock(state, mergeBlockUpdate(block, event.updates)) };
    }
    case "session:block:complete":
      return completeBlock(state, event.block);
    case "session:status":
      return { ...state, runtime: event.runtime };
    case "session:options:update":
      if (!state.metadata) return state;
      return { ...state, metadata: { ...state.metadata, sessionOptions: event.sessionOptions } };
    case "session:metadata:update":
      if (!state.metadata) return state;
      return {
        ...state,
        metadata: { ...state.metadata, usage: event.usage },
        usageEstimated: event.estimated,
      };
    case "session:file:created":
    case "session:file:modified": {
      const { path, size, modifiedAt } = event.file;
      return { ...state, files: putFile(state.files, { path, size, modifiedAt }) };
    }
    case "session:file:deleted": {
      const files = state.files.filter((file) => file.path !== event.path);
      return files.length === state.files.length ? state : { ...state, files };
    }
    case "session:subagent:discovered": {
      const others = state.subagents.filter((s) => s.id !== event.subagent.id);
      return { ...state, subagents: [...others, event.subagent] };
    }
    case "session:subagent:completed":
      return {
        ...state,
        subagents: state.subagents.map((s) =>
          s.id === event.subagentId ? { ...s, status: event.status, completedAt: event.timestamp } : s,
        ),
      };
    case "session:permission:requested":
      return {
        ...state,
        pendingPermissions: [
          ...state.pendingPermissions.filter((p) => p.requestId !== event.request.requestId),
          event.request,
        ],
      };
    case "session:permission:resolved": {
      const pendingPermissions = state.pendingPermissions.filter((p) => p.requestId !== event.requestId);
      return pendingPermissions.length === state.pendingPermissions.length
        ? state
        : { ...state, pendingPermissions };
    }
    case "session:turn:started":
      return {
        ...state,
        turn: { running: true, turnId: event.turnId, lastStopReason: state.turn.lastStopReason },
        queuedMessages: state.queuedMessages.filter((m) => m.turnId !== event.turnId),
      };
    case "session:turn:completed":
      return { ...state, turn: { running: false, turnId: undefined, lastStopReason: event.stopReason } };
    case "error": {
      const entry = { code: event.code, message: event.message, seq: event.seq, timestamp: event.timestamp };
      return { ...state, errors: [...state.errors, entry].slice(-MAX_KEPT_ERRORS) };
    }
  }
}

function applyDelta(state: SessionSnapshot, event: SessionEventOf<"session:block:delta">): SessionSnapshot {
  const block = state.blocksById[event.blockId];
  if (!block || !("content" in block) || typeof block.content !== "string") return state;
  const updated = { ...block, content: block.content + event.delta } as Block;
  return {
    ...state,
    ...putBlock(state, updated),
    inflightBlockIds: withId(state.inflightBlockIds, block.id),
  };
}

function completeBlock(state: SessionSnapshot, block: Block): SessionSnapshot {
  const inflightBlockIds = state.inflightBlockIds.includes(block.id)
    ? state.inflightBlockIds.filter((id) => id !== block.id)
    : state.inflightBlockIds;
  let subagents = state.subagents;
  if (block.type === "subagent") {
    const known = subagents.find((s) => s.id === block.subagentId);
    if (known && known.status !== block.status) {
      subagents = subagents.map((s) => (s === known ? { ...s, status: block.status } : s));
    }
  }
  return { ...state, ...putBlock(state, block), inflightBlockIds, subagents };
}

function withId(ids: readonly string[], id: string): readonly string[] {
  return ids.includes(id) ? ids : [...ids, id];
}

function putFile(files: readonly WorkspaceFile[], file: WorkspaceFile): readonly WorkspaceFile[] {
  const next = files.filter((f) => f.path !== file.path);
  next.push(file);
  return next.sort((a, b) => a.path.localeCompare(b.path));
}
