import type { WireEvent } from "@agent-runtime/client";
import { useEffect, useRef } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionStore } from "./use-session-store.js";

/**
 * Calls `handler` with every event of the session as it is applied (in
 * `seq` order, each once, replays included), while mounted. The latest
 * `handler` is used; it need not be memoised. Snapshots are not events.
 */
export function useEvents(sessionId: string | undefined, handler: (event: WireEvent) => void): void {
  const client = useAgentClient();
  useSessionStore(sessionId);
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => {
    if (!sessionId) return;
    return client.session(sessionId).subscribeEvents((event) => latest.current(event));
  }, [client, sessionId]);
}
