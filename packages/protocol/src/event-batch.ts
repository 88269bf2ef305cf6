import type { SessionEvent } from "./events.js";

/**
 * Socket event that carries several session events at once, in `seq` order
 * and without gaps: `{sessionId, events}`. The server sends it instead of the
 * single events when a session produced several before it could write them
 * (an agent writing faster than the server fans out, or a stalled event
 * loop), to the sockets that asked for it with `auth: {batchEvents: true}`
 * in their handshake; other sockets get the same events one by one. A
 * client applies `events` in order exactly as if each had come alone.
 */
export const SESSION_EVENT_BATCH = "session:events";

/** The payload of `session:events` (see `SESSION_EVENT_BATCH`). */
export interface SessionEventBatch {
  readonly sessionId: string;
  /** At least two events of the session, consecutive `seq`s, oldest first. */
  readonly events: readonly SessionEvent[];
}
