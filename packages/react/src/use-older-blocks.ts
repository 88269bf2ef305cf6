import { AgentRuntimeError } from "@agent-runtime/client";
import { useCallback, useState } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UseOlderBlocksResult {
  /** Older blocks of the main conversation exist on the server and are not loaded yet. */
  readonly hasOlderBlocks: boolean;
  /** True while a page of older blocks is being fetched. */
  readonly loading: boolean;
  /** Why the last load failed; cleared by the next one. */
  readonly error: AgentRuntimeError | undefined;
  /** Loads the page before the first loaded block (e.g. when the reader scrolls to the top); a no-op without older blocks. */
  loadOlder(limit?: number): Promise<void>;
}

/** Paging back through a long conversation: `GET /sessions/:id` brings its newest blocks, this the ones before. */
export function useOlderBlocks(sessionId: string): UseOlderBlocksResult {
  const client = useAgentClient();
  const hasOlderBlocks = useSessionSelector(sessionId, (s) => s.hasOlderBlocks);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<AgentRuntimeError | undefined>(undefined);
  const loadOlder = useCallback(
    async (limit?: number) => {
      setLoading(true);
      setError(undefined);
      try {
        await client.loadOlderBlocks(sessionId, limit);
      } catch (cause) {
        setError(
          AgentRuntimeError.is(cause)
            ? cause
            : new AgentRuntimeError("INVALID_RESPONSE", String(cause), { cause }),
        );
      } finally {
        setLoading(false);
      }
    },
    [client, sessionId],
  );
  return { hasOlderBlocks, loading, error, loadOlder };
}
