import type { SessionSnapshot } from "@agent-runtime/client";
import type { Block, SubagentBlock, ToolResultBlock } from "@agent-runtime/protocol";

/** Cross-block lookups the conversation needs, derived once per `blocksById` value. */
interface BlockIndex {
  /** `tool_result` blocks by the `toolUseId` they answer. */
  readonly resultsByToolUseId: ReadonlyMap<string, ToolResultBlock>;
  /** `toolUseId`s that have a `tool_use` block (their result is shown inside its card). */
  readonly toolUseIds: ReadonlySet<string>;
  /** `subagent` blocks by subagent id (the id of the tool call that started them). */
  readonly subagentsById: ReadonlyMap<string, SubagentBlock>;
}

const cache = new WeakMap<Readonly<Record<string, Block>>, BlockIndex>();

/** The index of a snapshot's blocks; the same object for the same `blocksById`. */
export function blockIndex(snapshot: SessionSnapshot): BlockIndex {
  const cached = cache.get(snapshot.blocksById);
  if (cached) return cached;
  const resultsByToolUseId = new Map<string, ToolResultBlock>();
  const toolUseIds = new Set<string>();
  const subagentsById = new Map<string, SubagentBlock>();
  for (const block of Object.values(snapshot.blocksById)) {
    if (block.type === "tool_result") resultsByToolUseId.set(block.toolUseId, block);
    else if (block.type === "tool_use") toolUseIds.add(block.toolUseId);
    else if (block.type === "subagent") subagentsById.set(block.subagentId, block);
  }
  const index = { resultsByToolUseId, toolUseIds, subagentsById };
  cache.set(snapshot.blocksById, index);
  return index;
}
