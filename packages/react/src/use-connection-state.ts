import type { ConnectionState } from "@agent-runtime/client";
import { useAgentClient } from "./agent-service-provider.js";
import { useStoreSelector } from "./use-store-selector.js";

/** The socket's state (`connected`, `reconnecting`, …), e.g. to show a "reconnecting" banner. */
export function useConnectionState(): ConnectionState {
  const client = useAgentClient();
  return useStoreSelector(client.connection, (s) => s);
}
