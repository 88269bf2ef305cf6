import type { AgentRuntimeError } from "@agent-runtime/client";
import type { SessionSummary } from "@agent-runtime/protocol";
import { useEffect } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useStoreSelector } from "./use-store-selector.js";

export interface UseSessionListResult {
  readonly sessions: readonly SessionSummary[];
  readonly isLoading: boolean;
  readonly error: AgentRuntimeError | undefined;
  /** Refetches the list (it is fetched on mount; sessions created or destroyed through this client show at once). */
  refresh(): Promise<void>;
}

export function useSessionList(): UseSessionListResult {
  const client = useAgentClient();
  const list = useStoreSelector(client.sessionList, (s) => s);
  useEffect(() => {
    void client.sessionList.refresh();
  }, [client]);
  return {
    sessions: list.sessions,
    isLoading: list.isLoading,
    error: list.error,
    refresh: client.sessionList.refresh,
  };
}
