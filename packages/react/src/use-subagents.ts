import type { Block, Subagent } from "@agent-runtime/protocol";
import { useCallback, useEffect } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UseSubagentsResult {
  readonly subagents: readonly Subagent[];
  /** Fetches a subagent's transcript into the store (read it with `useSubagentBlocks`). */
  loadBlocks(subagentId: string): Promise<readonly Block[]>;
}

/** The subagents of a session, live. */
export function useSubagents(sessionId: string): UseSubagentsResult {
  const client = useAgentClient();
  const subagents = useSessionSelector(sessionId, (s) => s.subagents);
  const loadBlocks = useCallback(
    (subagentId: string) => client.loadSubagentBlocks(sessionId, subagentId),
    [client, sessionId],
  );
  return { subagents, loadBlocks };
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
