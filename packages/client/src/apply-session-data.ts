import type { Block, SessionData } from "@agent-runtime/protocol";
import { indexBlocks } from "./block-list.js";
import type { SessionSnapshot } from "./session-snapshot.js";

/**
 * Replaces the session's state with `data` (from `GET /sessions/:id` or a
 * `session:snapshot`), which reflects every event up to `data.lastSeq`.
 * Subagent transcripts and pending permission requests are not part of
 * `data`, so they are dropped (transcripts reload on demand). Queued
 * messages and seen errors are kept. Blocks equal by value to the current
 * ones keep their identity, so a resync does not re-render unchanged blocks.
 */
export function applySessionData(state: SessionSnapshot, data: SessionData): SessionSnapshot {
  const { blocks: incoming, files, subagents, runtime, lastSeq, ...metadata } = data;
  const blocks = incoming.map((block) => reuseIfEqual(state.blocksById[block.id], block));
  return {
    ...state,
    loadState: "ready",
    loadError: undefined,
    metadata,
    runtime,
    blocks,
    subagentBlocks: {},
    blocksById: indexBlocks(blocks),
    inflightBlockIds: [],
    files,
    subagents,
    pendingPermissions: data.pendingPermissions,
    turn: { running: runtime.busy, turnId: undefined, lastStopReason: state.turn.lastStopReason },
    lastSeq,
  };
}

/**
 * Adds a subagent transcript fetched over REST. That answer carries no
 * `seq`, so blocks the store already holds (from events, which are newer or
 * equal) win; only unknown blocks are added, in the fetched order.
 */
export function mergeSubagentBlocks(
  state: SessionSnapshot,
  subagentId: string,
  fetched: readonly Block[],
): SessionSnapshot {
  const current = state.subagentBlocks[subagentId] ?? [];
  const fetchedIds = new Set(fetched.map((block) => block.id));
  // The server's start order first, then blocks only events brought.
  const transcript = [
    ...fetched.map((block) => state.blocksById[block.id] ?? block),
    ...current.filter((block) => !fetchedIds.has(block.id)),
  ];
  const blocksById = { ...state.blocksById };
  for (const block of transcript) blocksById[block.id] = block;
  return { ...state, subagentBlocks: { ...state.subagentBlocks, [subagentId]: transcript }, blocksById };
}

function reuseIfEqual(previous: Block | undefined, next: Block): Block {
  return previous !== undefined && JSON.stringify(previous) === JSON.stringify(next) ? previous : next;
}
