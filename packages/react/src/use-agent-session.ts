import type { AgentRuntimeError, SessionMetadata, SessionSnapshot } from "@agent-runtime/client";
import type {
  CreateSessionRequest,
  RuntimeState,
  SessionOptions,
  SessionOptionsPatch,
  SessionSummary,
} from "@agent-runtime/protocol";
import { useCallback, useState } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UseAgentSessionResult {
  /** The session this hook follows: the argument, else the one created or loaded through the hook. */
  readonly sessionId: string | undefined;
  /** Persistent facts (profile, architecture, options, usage, title, …); undefined until loaded. */
  readonly session: SessionMetadata | undefined;
  readonly runtime: RuntimeState | undefined;
  readonly isLoading: boolean;
  readonly error: AgentRuntimeError | undefined;
  /** Creates a session; without a `sessionId` argument the hook then follows it. */
  createSession(request: CreateSessionRequest): Promise<SessionSummary>;
  /** Loads a session; without a `sessionId` argument the hook then follows it. */
  loadSession(sessionId: string): Promise<SessionSnapshot>;
  /** Destroys a session (default: the followed one). */
  destroySession(sessionId?: string): Promise<void>;
  /** Refetches the followed session over REST and resumes its events from there. */
  syncSession(): Promise<SessionSnapshot>;
  /** Changes the followed session's options from its next turn (`null` removes one); resolves to them. */
  updateSessionOptions(options: SessionOptionsPatch): Promise<SessionOptions>;
  /** Unloads the followed session (its sandbox goes, everything is kept; the next message brings it back). */
  stopSession(): Promise<void>;
}

/** A session's metadata and runtime state, plus its lifecycle commands. Keeps the session live while mounted. */
export function useAgentSession(sessionId?: string): UseAgentSessionResult {
  const client = useAgentClient();
  const [ownId, setOwnId] = useState<string | undefined>(undefined);
  const activeId = sessionId ?? ownId;
  const session = useSessionSelector(activeId, (s) => s.metadata);
  const runtime = useSessionSelector(activeId, (s) => s.runtime);
  const loadState = useSessionSelector(activeId, (s) => s.loadState);
  const error = useSessionSelector(activeId, (s) => s.loadError);

  const requireId = useCallback((id: string | undefined): string => {
    if (id === undefined)
      throw new Error("useAgentSession: no session (pass a sessionId, or create or load one)");
    return id;
  }, []);
  const createSession = useCallback(
    async (request: CreateSessionRequest) => {
      const created = await client.createSession(request);
      if (sessionId === undefined) setOwnId(created.sessionId);
      return created;
    },
    [client, sessionId],
  );
  const loadSession = useCallback(
    (id: string) => {
      if (sessionId === undefined) setOwnId(id);
      return client.syncSession(id);
    },
    [client, sessionId],
  );
  const destroySession = useCallback(
    async (id?: string) => {
      const target = requireId(id ?? activeId);
      await client.destroySession(target);
      if (target === ownId) setOwnId(undefined);
    },
    [client, activeId, ownId, requireId],
  );
  const syncSession = useCallback(
    async () => client.syncSession(requireId(activeId)),
    [client, activeId, requireId],
  );
  const stopSession = useCallback(
    async () => client.stopSession(requireId(activeId)),
    [client, activeId, requireId],
  );
  const updateSessionOptions = useCallback(
    async (options: SessionOptionsPatch) => client.updateSessionOptions(requireId(activeId), options),
    [client, activeId, requireId],
  );

  return {
    sessionId: activeId,
    session,
    runtime,
    isLoading: activeId !== undefined && (loadState === "loading" || loadState === "idle"),
    error,
    createSession,
    loadSession,
    destroySession,
    syncSession,
    updateSessionOptions,
    stopSession,
  };
}
