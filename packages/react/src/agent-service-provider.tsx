import { AgentRuntimeClient, type TokenAnswer } from "@agent-runtime/client";
import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef } from "react";

export interface AgentServiceProviderProps {
  /** REST base URL of the Agent Runtime server, e.g. `http://localhost:3000`. */
  readonly apiUrl: string;
  /** socket.io URL. @default apiUrl */
  readonly wsUrl?: string;
  /** Bearer key for REST and the socket handshake (servers and trusted tools; never ship one to a browser). */
  readonly apiKey?: string;
  /** A browser token (`POST /auth/tokens`), used as the key is. */
  readonly token?: string;
  /**
   * Gets the next browser token: called before the current one expires and
   * when the server refuses it, for REST and socket reconnections alike. A
   * new function on every render is fine: the latest one is called.
   */
  readonly getToken?: () => Promise<TokenAnswer>;
  /** Logs socket activity through `console.debug`. @default false */
  readonly debug?: boolean;
  /** Use this client instead of creating one (then the other props are ignored and the caller owns it). */
  readonly client?: AgentRuntimeClient;
  readonly children?: ReactNode;
}

const AgentClientContext = createContext<AgentRuntimeClient | null>(null);

/**
 * Provides one `AgentRuntimeClient` to the hooks below it. A client created
 * here is replaced when `apiUrl`, `wsUrl`, `apiKey`, `token`, `debug`, or
 * whether `getToken` is given, change, and its socket is closed on unmount.
 */
export function AgentServiceProvider({
  apiUrl,
  wsUrl,
  apiKey,
  token,
  getToken,
  debug,
  client,
  children,
}: AgentServiceProviderProps) {
  const latestGetToken = useRef(getToken);
  latestGetToken.current = getToken;
  const refreshes = getToken !== undefined;
  const owned = useMemo(
    () =>
      client
        ? undefined
        : new AgentRuntimeClient({
            apiUrl,
            ...(wsUrl === undefined ? {} : { wsUrl }),
            ...(apiKey === undefined ? {} : { apiKey }),
            ...(token === undefined ? {} : { token }),
            ...(refreshes
              ? {
                  getToken: () =>
                    latestGetToken.current?.() ?? Promise.reject(new Error("getToken was removed")),
                }
              : {}),
            ...(debug === undefined ? {} : { debug }),
          }),
    [client, apiUrl, wsUrl, apiKey, token, refreshes, debug],
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
