import type { DebugEvent, WireEvent } from "@agent-runtime/client";
import { useCallback, useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionStore } from "./use-session-store.js";

export interface UseEventsResult {
  /** The client's debug log: every socket event received (all sessions), oldest first, live. */
  readonly events: readonly DebugEvent[];
  /** Empties the log. */
  clear(): void;
}

const noSubscription = () => () => undefined;

/**
 * Without arguments: the client's global debug log of socket events
 * (`AgentRuntimeClient.eventLog`; recording starts when the first such hook
 * mounts, and keeps the latest 500 events by default).
 *
 * With a session: calls `handler` with every event of the session as it is
 * applied (in `seq` order, each once, replays included), while mounted. The
 * latest `handler` is used; it need not be memoised. Snapshots are not
 * events.
 */
export function useEvents(): UseEventsResult;
export function useEvents(sessionId: string | undefined, handler: (event: WireEvent) => void): void;
export function useEvents(
  ...args: [] | [sessionId: string | undefined, handler: (event: WireEvent) => void]
): UseEventsResult | undefined {
  const client = useAgentClient();
  const global = args.length === 0;
  const [sessionId, handler] = args;
  useSessionStore(sessionId);
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => {
    if (!sessionId) return;
    return client.session(sessionId).subscribeEvents((event) => latest.current?.(event));
  }, [client, sessionId]);
  const log = client.eventLog;
  const subscribe = useCallback((listener: () => void) => log.subscribe(listener), [log]);
  const events = useSyncExternalStore(global ? subscribe : noSubscription, log.getSnapshot, log.getSnapshot);
  const result = useMemo(() => ({ events, clear: log.clear }), [events, log]);
  return global ? result : undefined;
}
