import type { Block, BlockPage, SessionData } from "@agent-runtime/protocol";
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
  const { blocks: incoming, hasOlderBlocks, files, subagents, runtime, lastSeq, ...metadata } = data;
  const page = incoming.map((block) => reuseIfEqual(state.blocksById[block.id], block));
  // Older blocks loaded before stay when the new data continues them (a resync of a paged session).
  const kept = hasOlderBlocks ? olderThan(state.blocks, page[0]?.id) : undefined;
  const blocks = kept ? [...kept, ...page] : page;
  return {
    ...state,
    loadState: "ready",
    loadError: undefined,
    metadata,
    runtime,
    blocks,
    hasOlderBlocks: kept ? state.hasOlderBlocks : hasOlderBlocks === true,
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

/**
 * Adds `page`, the blocks the server holds just before block `beforeId`
 * (`GET /sessions/:id/blocks?before=`), in front of the loaded ones. When
 * `beforeId` is no longer the first loaded block (a resync replaced them
 * meanwhile) the page is ignored, so blocks are never shown out of order.
 */
export function prependOlderBlocks(
  state: SessionSnapshot,
  beforeId: string,
  page: BlockPage,
): SessionSnapshot {
  if (!state.hasOlderBlocks || state.blocks[0]?.id !== beforeId) return state;
  const older = page.blocks.filter((block) => state.blocksById[block.id] === undefined);
  const blocksById = { ...state.blocksById };
  for (const block of older) blocksById[block.id] = block;
  return {
    ...state,
    blocks: [...older, ...state.blocks],
    blocksById,
    hasOlderBlocks: page.hasMoreBefore,
  };
}

/** The blocks of `blocks` before the one with `id`; undefined when it is not there. */
function olderThan(blocks: readonly Block[], id: string | undefined): readonly Block[] | undefined {
  const index = id === undefined ? -1 : blocks.findIndex((block) => block.id === id);
  return index > 0 ? blocks.slice(0, index) : undefined;
}

function reuseIfEqual(previous: Block | undefined, next: Block): Block {
  return previous !== undefined && JSON.stringify(previous) === JSON.stringify(next) ? previous : next;
}
