import { type Block, blockOwner } from "@agent-runtime/protocol";
import type { SessionSnapshot } from "./session-snapshot.js";

type BlockLists = Pick<SessionSnapshot, "blocks" | "subagentBlocks" | "blocksById">;

/**
 * Puts `block` into its transcript (main or its subagent's): replaces the
 * block with the same id in place, or appends it. Returns new lists; only
 * the touched transcript array and the index are copied, every other block
 * keeps its identity.
 */
export function putBlock(lists: BlockLists, block: Block): BlockLists {
  const owner = blockOwner(block);
  const known = lists.blocksById[block.id] !== undefined;
  const blocksById = { ...lists.blocksById, [block.id]: block };
  if (owner === null) {
    return { ...lists, blocks: upsert(lists.blocks, block, known), blocksById };
  }
  const transcript = lists.subagentBlocks[owner] ?? [];
  return {
    ...lists,
    subagentBlocks: { ...lists.subagentBlocks, [owner]: upsert(transcript, block, known) },
    blocksById,
  };
}

function upsert(list: readonly Block[], block: Block, known: boolean): readonly Block[] {
  if (known) {
    // Recent blocks change most: search from the end.
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]?.id === block.id) {
        const next = list.slice();
        next[i] = block;
        return next;
      }
    }
  }
  return [...list, block];
}

/** An index of `blocks` by id. */
export function indexBlocks(blocks: Iterable<Block>): Record<string, Block> {
  const index: Record<string, Block> = {};
  for (const block of blocks) index[block.id] = block;
  return index;
}
