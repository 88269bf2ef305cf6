import type { AgentSession } from "./agent-session.js";

/**
 * Who may run a session. A single server owns every session it loads and
 * needs none of this; in cluster mode (`cluster/cluster-ownership.ts`) a
 * session is run by one node at a time, which holds its lease, writes its
 * data under the lease's fencing token and shares its events with the other
 * nodes. The session manager calls these around a session's life here.
 */
export interface SessionOwnership {
  /**
   * Takes the session for this process before it is created or loaded here.
   * Resolves with the seq its events must continue after (the shared event
   * stream may be ahead of the stored record: events emitted after the last
   * sync of a node that died). Throws `NODE_UNAVAILABLE` when another node
   * holds it (the caller retries, or the request is forwarded there).
   */
  acquire(sessionId: string): Promise<{ readonly lastSeq: number }>;
  /** The session runs here from now on (created or loaded): its events are shared. */
  attached(session: AgentSession): void;
  /**
   * The session stopped running here (unloaded, closed, deleted, or taken
   * over by another node): its lease is given up, after its last events are
   * shared. `deleted`: the session no longer exists.
   */
  release(sessionId: string, options?: { readonly deleted?: boolean }): Promise<void>;
}
