/**
 * A pending tool-permission request, as carried by the event
 * `session:permission:requested`. The protocol (v1) does not define these
 * events yet (the server runs agents with permissions bypassed), so the
 * client reads them leniently: `requestId` is required, the rest is kept
 * as sent. `session:permission:resolved {requestId}` removes the request.
 */
export interface PermissionRequest {
  readonly requestId: string;
  readonly toolName?: string;
  readonly input?: unknown;
  /** The `tool_use` block the request is about, when the server says so. */
  readonly blockId?: string;
  readonly timestamp: string;
  readonly [field: string]: unknown;
}
