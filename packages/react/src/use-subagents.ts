import type { SessionSnapshot } from "@agent-runtime/client";
import type { Block, Subagent, SubagentBlock } from "@agent-runtime/protocol";
import { useCallback, useEffect } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

/** One subagent with its transcript and its block. */
export interface SubagentState extends Subagent {
  /** Its transcript, live; undefined until fetched (`useSubagents` fetches missing ones). */
  readonly blocks: readonly Block[] | undefined;
  /** Its `subagent` block (display name, prompt, output, summary, duration); undefined before that block is known. */
  readonly block: SubagentBlock | undefined;
}

export interface UseSubagentsResult {
  /** Every subagent of the session, in discovery order, with its status, transcript and block. */
  readonly subagents: readonly SubagentState[];
  /** Fetches a subagent's transcript into the store again. */
  loadBlocks(subagentId: string): Promise<readonly Block[]>;
}

/**
 * The subagents of a session, live. Transcripts the store does not hold
 * (subagents that ran before this client loaded the session) are fetched
 * over REST once each while mounted; a failed fetch is not retried until
 * the set of missing transcripts changes (or `loadBlocks`).
 */
export function useSubagents(sessionId: string): UseSubagentsResult {
  const client = useAgentClient();
  const subagents = useSessionSelector(sessionId, subagentStates, sameStates);
  const loaded = useSessionSelector(sessionId, (s) => s.loadState === "ready");
  const missing = loaded
    ? subagents
        .filter((s) => s.blocks === undefined)
        .map((s) => s.id)
        .join("\n")
    : "";
  useEffect(() => {
    if (!missing) return;
    for (const subagentId of missing.split("\n")) {
      client.loadSubagentBlocks(sessionId, subagentId).catch(() => undefined);
    }
  }, [client, sessionId, missing]);
  const loadBlocks = useCallback(
    (subagentId: string) => client.loadSubagentBlocks(sessionId, subagentId),
    [client, sessionId],
  );
  return { subagents, loadBlocks };
}

function subagentStates(s: SessionSnapshot): readonly SubagentState[] {
  if (s.subagents.length === 0) return [];
  const blocksOf = new Map<string, SubagentBlock>();
  for (const id in s.blocksById) {
    const block = s.blocksById[id];
    if (block?.type === "subagent") blocksOf.set(block.subagentId, block);
  }
  return s.subagents.map((subagent) => ({
    ...subagent,
    blocks: s.subagentBlocks[subagent.id],
    block: blocksOf.get(subagent.id),
  }));
}

function sameStates(a: readonly SubagentState[], b: readonly SubagentState[]): boolean {
  return (
    a.length === b.length &&
    a.every((state, i) => {
      const other = b[i];
      return (
        other !== undefined &&
        Object.keys(state).length === Object.keys(other).length &&
        Object.entries(state).every(([key, value]) => Object.is(value, other[key as keyof SubagentState]))
      );
    })
  );
}

/**
 * One subagent's transcript, live. Fetched over REST when the store does not
 * hold it yet (e.g. the subagent ran before this client loaded); undefined
 * until then.
 */
export function useSubagentBlocks(sessionId: string, subagentId: string): readonly Block[] | undefined {
  const client = useAgentClient();
  const blocks = useSessionSelector(sessionId, (s) => s.subagentBlocks[subagentId]);
  const loaded = useSessionSelector(sessionId, (s) => s.loadState === "ready");
  const missing = loaded && blocks === undefined;
  useEffect(() => {
    if (missing) client.loadSubagentBlocks(sessionId, subagentId).catch(() => undefined);
  }, [client, sessionId, subagentId, missing]);
  return blocks;
}
