import type { PermissionRequestLine } from "../agent-host.js";

/** The `permission.asked` event's properties (`@opencode-ai/sdk` v2 `EventPermissionAsked`). */
export interface OpenCodePermissionAsked {
  id: string;
  sessionID: string;
  permission: string;
  patterns: string[];
  metadata: Record<string, unknown>;
  tool?: { messageID: string; callID: string };
}

/**
 * A `permission.asked` event as a `permission_request` line: OpenCode's
 * request id, its permission as the tool name (so "always" covers what
 * OpenCode's own "always" would), the tool call's input when known (else
 * OpenCode's metadata), the call id, and the patterns as the title.
 */
export function permissionRequestOf(
  asked: OpenCodePermissionAsked,
  callInput: unknown,
): PermissionRequestLine {
  const patterns = asked.patterns.filter((p) => p !== "*");
  return {
    type: "permission_request",
    requestId: asked.id,
    toolName: asked.permission,
    input: callInput ?? asked.metadata,
    ...(asked.tool ? { toolUseId: asked.tool.callID } : {}),
    ...(patterns.length > 0 ? { title: `${asked.permission}: ${patterns.join(", ")}` } : {}),
  };
}
