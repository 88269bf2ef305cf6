import type { PermissionDecision } from "@agent-runtime/client";
import type { PermissionRequest } from "@agent-runtime/protocol";
import { useCallback } from "react";
import { useAgentClient } from "./agent-service-provider.js";
import { useSessionSelector } from "./use-session-store.js";

export interface UsePermissionsResult {
  /** Tool-permission requests waiting for an answer, oldest first. */
  readonly pending: readonly PermissionRequest[];
  respond(requestId: string, decision: PermissionDecision, options?: { always?: boolean }): Promise<void>;
}

/**
 * Pending tool-permission requests of a session whose permission policy is
 * `ask` (sessions in `bypass` mode never raise any). Unanswered requests
 * expire on the server and are denied.
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
