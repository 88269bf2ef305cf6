import type { Block } from "@agent-runtime/protocol";

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
