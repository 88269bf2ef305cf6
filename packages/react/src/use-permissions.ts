import type { PermissionDecision, PermissionRequest } from "@agent-runtime/client";
import { useCallback } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UsePermissionsResult {
  /** Tool-permission requests waiting for an answer, oldest first. */
  readonly pending: readonly PermissionRequest[];
  respond(requestId: string, decision: PermissionDecision, options?: { always?: boolean }): Promise<void>;
}

/**
 * Pending tool-permission requests. Servers that run agents with
 * permissions bypassed (the v1 default) never raise any, so `pending` stays
 * empty there.
 */
export function usePermissions(sessionId: string): UsePermissionsResult {
  const client = useAgentClient();
  const pending = useSessionSelector(sessionId, (s) => s.pendingPermissions);
  const respond = useCallback(
    (requestId: string, decision: PermissionDecision, options?: { always?: boolean }) =>
      client.respondToPermission(sessionId, requestId, decision, options),
    [client, sessionId],
  );
  return { pending, respond };
}
