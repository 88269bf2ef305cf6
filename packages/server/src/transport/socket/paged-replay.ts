import type { Socket } from "socket.io";
import type { AgentSession } from "../../core/agent-session.js";
import type { OutgoingQueue } from "./outgoing-queue.js";

/** Events read from the log at a time while a page fills. */
const EVENTS_PER_READ = 256;

export interface PagedReplayOptions {
  readonly socket: Socket;
  readonly queue: OutgoingQueue;
  readonly session: AgentSession;
  /** The last `seq` the client holds. */
  readonly afterSeq: number;
  /** The session's room, joined once the replay has caught up. */
  readonly room: string;
  /** Bytes a page may add to the socket's queue (a page ends with the event that reaches it). */
  readonly pageBytes: number;
  /** Aborted when the replay is replaced (a later join, a leave) or the socket goes. */
  readonly signal: AbortSignal;
}

export interface ReplayOutcome {
  /** The session's last `seq` when the replay caught up; live events follow it. */
  readonly lastSeq: number;
  readonly replayed: number;
  /** A `session:snapshot` was sent because the log no longer held the cursor's next event. */
  readonly snapshot: boolean;
}

/**
 * Catches a socket up on a session from a cursor and then joins it to the
 * session's room, so live events follow the replay with nothing missed and
 * nothing doubled. The replay goes out a page at a time: the next page only
 * once the socket's queue has been written, so the replays to one socket
 * hold at most one page (plus the event that ends it) between them whatever
 * their sizes, and a client that stops reading holds that page until the
 * slow-consumer bound drops it.
 * Events that happen meanwhile are read from the session's log like the
 * rest; when the log no longer holds the cursor's next event (the client
 * fell behind the window), a `session:snapshot` is sent and the replay goes
 * on after it. The last page, the check that nothing is left and the room
 * join happen in one tick. Resolves with the outcome once the socket is in
 * the room (`onCaughtUp` runs in that same tick), or `undefined` when
 * `signal` aborted or the connection closed first.
 */
export async function replayInPages(
  options: PagedReplayOptions,
  onCaughtUp: (outcome: ReplayOutcome) => void,
): Promise<ReplayOutcome | undefined> {
  const { socket, queue, session, room, pageBytes, signal } = options;
  let cursor = options.afterSeq;
  let replayed = 0;
  let snapshot = false;
  for (;;) {
    // Another replay to the same socket may have filled the queue first: pages take turns.
    do {
      if (!(await queue.whenIdle(signal))) return undefined;
    } while (queue.pendingBytes > 0);
    while (queue.pendingBytes < pageBytes) {
      const resumed = session.resume(cursor, EVENTS_PER_READ);
      if (resumed.kind === "snapshot") {
        const data = resumed.snapshot;
        socket.emit("session:snapshot", { sessionId: session.id, seq: data.lastSeq, session: data });
        snapshot = true;
        cursor = data.lastSeq;
        continue;
      }
      if (resumed.events.length === 0) {
        socket.join(room);
        const outcome = { lastSeq: session.log.lastSeq, replayed, snapshot };
        onCaughtUp(outcome);
        return outcome;
      }
      for (const event of resumed.events) {
        socket.emit(event.type, event);
        cursor = event.seq;
        replayed += 1;
        if (queue.pendingBytes >= pageBytes) break;
      }
    }
  }
}
