import type { Block } from "@agent-runtime/protocol";
import { useSessionSelector } from "./use-session-store.js";
import { shallowEqualArrays } from "./use-store-selector.js";

/** The ids of the main conversation's blocks; re-renders only when a block is added (not on deltas). */
export function useBlockIds(sessionId: string): readonly string[] {
  return useSessionSelector(sessionId, (s) => s.blocks.map((b) => b.id), shallowEqualArrays);
}

/** One block (main or subagent) by id; re-renders only when that block changes. */
export function useBlock(sessionId: string, blockId: string): Block | undefined {
  return useSessionSelector(sessionId, (s) => s.blocksById[blockId]);
}
