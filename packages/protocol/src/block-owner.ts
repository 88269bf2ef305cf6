import type { Block } from "./blocks.js";

/**
 * Which transcript a block belongs to: `null` for the main conversation,
 * else the id of the subagent whose run produced it. A `subagent` block
 * carries its own id in `subagentId`, so it belongs to its parent's
 * transcript (`parentSubagentId`), or to the main one when it has none.
 */
export function blockOwner(block: Block): string | null {
  if (block.type === "subagent") return block.parentSubagentId ?? null;
  return block.subagentId ?? null;
}

/** True when `block` belongs to the main conversation (`blockOwner` is `null`). */
export function isMainBlock(block: Block): boolean {
  return blockOwner(block) === null;
}

/** True when `block` is part of the run of subagent `subagentId` (not that subagent's own block). */
export function belongsToSubagent(block: Block, subagentId: string): boolean {
  return blockOwner(block) === subagentId;
}
