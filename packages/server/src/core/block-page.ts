import type { Block } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

/** Where a page of blocks sits (see `sessionBlocksQuerySchema`). */
export interface BlockPageQuery {
  readonly before?: string | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

/**
 * The page of `blocks` (one conversation in start order) that `query` asks
 * for, with whether blocks come before and after it. Throws
 * `VALIDATION_FAILED` when `before` or `after` names no block of `blocks`.
 */
export function pageOfBlocks(
  blocks: readonly Block[],
  query: BlockPageQuery,
): { blocks: Block[]; hasMoreBefore: boolean; hasMoreAfter: boolean } {
  let start: number;
  let end: number;
  if (query.before !== undefined) {
    end = indexOf(blocks, query.before, "before");
    start = Math.max(0, end - query.limit);
  } else {
    start = query.after === undefined ? 0 : indexOf(blocks, query.after, "after") + 1;
    end = Math.min(blocks.length, start + query.limit);
  }
  return { blocks: blocks.slice(start, end), hasMoreBefore: start > 0, hasMoreAfter: end < blocks.length };
}

/** The newest `limit` of `blocks`, and whether older ones were left out. */
export function newestBlocks(
  blocks: readonly Block[],
  limit: number,
): { blocks: Block[]; hasOlderBlocks: boolean } {
  const start = Math.max(0, blocks.length - limit);
  return { blocks: blocks.slice(start), hasOlderBlocks: start > 0 };
}

function indexOf(blocks: readonly Block[], id: string, name: string): number {
  // From the end: clients page back from recent blocks.
  for (let index = blocks.length - 1; index >= 0; index--) if (blocks[index]?.id === id) return index;
  throw new RuntimeError("VALIDATION_FAILED", `\`${name}\`: no block ${id} in this session's conversation`);
}
