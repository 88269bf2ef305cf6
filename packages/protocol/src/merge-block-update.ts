import type { Block } from "./blocks.js";

/**
 * `block` with the fields of a block update (`session:block:update`,
 * `block_update`) applied; pure. An update never changes the block's `id` or
 * `type`, whatever it carries.
 */
export function mergeBlockUpdate(block: Block, updates: Partial<Block>): Block {
  return { ...block, ...updates, id: block.id, type: block.type } as Block;
}
