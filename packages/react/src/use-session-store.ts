import { emptySessionSnapshot, type SessionSnapshot } from "@agent-runtime/client";
import { useEffect } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { type ExternalStore, useStoreSelector } from "./use-store-selector.js";

const noSession: SessionSnapshot = emptySessionSnapshot("");
const noSessionStore: ExternalStore<SessionSnapshot> = {
  getSnapshot: () => noSession,
  subscribe: () => () => undefined,
};

/**
 * The store of `sessionId`, kept open (loaded and live) while the calling
 * component is mounted; an empty, never-changing store without an id.
 */
export function useSessionStore(sessionId: string | undefined): ExternalStore<SessionSnapshot> {
  const client = useAgentClient();
  useEffect(() => {
    if (!sessionId) return;
    const open = client.openSession(sessionId);
    // Load failures show in the snapshot's `loadError`.
    open.ready.catch(() => undefined);
    return open.release;
  }, [client, sessionId]);
  return sessionId ? client.session(sessionId) : noSessionStore;
}

/**
 * Selects from a session's snapshot; the component re-renders only when the
 * selection changes (by `isEqual`, default `Object.is`). Keeps the session
 * open while mounted.
 */
export function useSessionSelector<T>(
  sessionId: string | undefined,
  selector: (snapshot: SessionSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): T {
  return useStoreSelector(useSessionStore(sessionId), selector, isEqual);
}
