import { AgentRuntimeClient } from "@agent-runtime/client";
import { createContext, type ReactNode, useContext, useEffect, useMemo } from "react";

export interface AgentServiceProviderProps {
  /** REST base URL of the Agent Runtime server, e.g. `http://localhost:3000`. */
  readonly apiUrl: string;
  /** socket.io URL. @default apiUrl */
  readonly wsUrl?: string;
  /** Bearer key for REST and the socket handshake. */
  readonly apiKey?: string;
  /** Logs socket activity through `console.debug`. @default false */
  readonly debug?: boolean;
  /** Use this client instead of creating one (then the other props are ignored and the caller owns it). */
  readonly client?: AgentRuntimeClient;
  readonly children?: ReactNode;
}

const AgentClientContext = createContext<AgentRuntimeClient | null>(null);

/**
 * Provides one `AgentRuntimeClient` to the hooks below it. A client created
 * here is replaced when `apiUrl`, `wsUrl`, `apiKey` or `debug` change, and
 * its socket is closed on unmount.
 */
export function AgentServiceProvider({
  apiUrl,
  wsUrl,
  apiKey,
  debug,
  client,
  children,
}: AgentServiceProviderProps) {
  const owned = useMemo(
    () =>
      client
        ? undefined
        : new AgentRuntimeClient({
            apiUrl,
            ...(wsUrl === undefined ? {} : { wsUrl }),
            ...(apiKey === undefined ? {} : { apiKey }),
            ...(debug === undefined ? {} : { debug }),
          }),
    [client, apiUrl, wsUrl, apiKey, debug],
  );
  useEffect(() => () => owned?.close(), [owned]);
  const value = client ?? owned;
  return <AgentClientContext.Provider value={value ?? null}>{children}</AgentClientContext.Provider>;
}

/** The provider's client. Throws outside an `AgentServiceProvider`. */
export function useAgentClient(): AgentRuntimeClient {
  const client = useContext(AgentClientContext);
  if (!client) throw new Error("Agent Runtime hooks must be used inside <AgentServiceProvider>");
  return client;
}
