import type { SessionEventType } from "@agent-runtime/protocol";

/**
 * Every session event type of the protocol, held here as data so the client
 * needs no schema code at run time. Typed as a record over the protocol's
 * union: the compiler rejects a missing or an unknown type.
 */
const sessionEventTypes: Record<SessionEventType, true> = {
  "session:block:start": true,
  "session:block:delta": true,
  "session:block:update": true,
  "session:block:complete": true,
  "session:status": true,
  "session:options:update": true,
  "session:metadata:update": true,
  "session:file:created": true,
  "session:file:modified": true,
  "session:file:deleted": true,
  "session:subagent:discovered": true,
  "session:subagent:completed": true,
  "session:permission:requested": true,
  "session:permission:resolved": true,
  "session:turn:started": true,
  "session:turn:completed": true,
  error: true,
};

/** True for the event types this protocol version defines (anything else is an extension event). */
export function isSessionEventType(type: string): type is SessionEventType {
  return Object.hasOwn(sessionEventTypes, type);
}
