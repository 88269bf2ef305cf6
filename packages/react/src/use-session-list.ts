import type { AgentRuntimeError } from "@agent-runtime/client";
import type { SessionSummary } from "@agent-runtime/protocol";
import { useEffect } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useStoreSelector } from "./use-store-selector.js";

export interface UseSessionListResult {
  readonly sessions: readonly SessionSummary[];
  readonly isLoading: boolean;
  readonly error: AgentRuntimeError | undefined;
  /** Refetches the list over REST (rarely needed: the list is live while the hook is mounted). */
  refresh(): Promise<void>;
}

/**
 * The session list, live while mounted: creations, status, activity, usage,
 * titles and deletions from any client arrive over the socket
 * (`SessionListStore.follow`), and a reconnect brings a fresh full list.
 */
export function useSessionList(): UseSessionListResult {
  const client = useAgentClient();
  const list = useStoreSelector(client.sessionList, (s) => s);
  useEffect(() => client.sessionList.follow(), [client]);
  return {
    sessions: list.sessions,
    isLoading: list.isLoading,
    error: list.error,
    refresh: client.sessionList.refresh,
  };
}
