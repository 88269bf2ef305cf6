import type { SessionData } from "@agent-runtime/protocol";
import type { Socket } from "socket.io";
import type { ClusterEventBus, EventSubscription } from "../../cluster/cluster-event-bus.js";
import type { FollowerFanout } from "./follower-fanout.js";
import type { OutgoingQueue } from "./outgoing-queue.js";
import type { ReplayOutcome } from "./paged-replay.js";

/** Events read from the shared stream at a time while a page fills. */
const EVENTS_PER_READ = 256;

export interface BusFollowOptions {
  readonly socket: Socket;
  readonly queue: OutgoingQueue;
  readonly bus: Pick<ClusterEventBus, "eventsAfter" | "subscribe">;
  readonly sessionId: string;
  /** The last `seq` the client holds. */
  readonly afterSeq: number;
  /** Bytes a replay page may add to the socket's queue. */
  readonly pageBytes: number;
  /** Aborted when the follow is replaced (a later join, a leave) or the socket goes. */
  readonly signal: AbortSignal;
  /** The session as it stands, when the stream no longer holds the client's next event. */
  readonly snapshot: () => Promise<SessionData>;
  /** Writes the live events, each encoded once for all the sockets of this node following the session. */
  readonly fanout: FollowerFanout;
  /**
   * Send a snapshot before anything else: the stream holds nothing of the
   * session (it expired after a day without events) while the client is
   * behind what is stored.
   */
  readonly snapshotFirst?: boolean;
  /** The follow ended without the client asking (the stream lost its place twice in a row). */
  readonly ended: (reason: string) => void;
}

/**
 * Cluster mode's `session:join`: catches a socket up on a session from the
 * cluster's shared event stream a page at a time (the next page once the
 * socket's queue is written, as `replayInPages` does), then follows the
 * stream live. The live subscription re-reads the stream from the last
 * replayed seq, so nothing published in between is missed or doubled. When
 * the stream no longer holds the client's next event, a `session:snapshot`
 * is sent and the follow goes on after it. Live events go through `fanout`
 * (what it holds for any socket is written before this follow writes
 * anything, so an earlier follow's events stay ahead of it). Resolves with
 * the subscription once it is live (`onCaughtUp` runs first), or
 * `undefined` when `signal` aborted or the connection closed first.
 */
export async function followSessionOnBus(
  options: BusFollowOptions,
  onCaughtUp: (outcome: ReplayOutcome) => void,
): Promise<EventSubscription | undefined> {
  const { socket, queue, bus, sessionId, pageBytes, signal } = options;
  let cursor = options.afterSeq;
  let replayed = 0;
  let snapshot = false;
  const sendSnapshot = async (): Promise<void> => {
    const data = await options.snapshot();
    socket.emit("session:snapshot", { sessionId, seq: data.lastSeq, session: data });
    snapshot = true;
    cursor = data.lastSeq;
  };
  let snapshotsInARow = 0;
  options.fanout.flush();
  if (options.snapshotFirst) await sendSnapshot();
  for (;;) {
    do {
      if (!(await queue.whenIdle(signal))) return undefined;
    } while (queue.pendingBytes > 0);
    let caughtUp = false;
    while (queue.pendingBytes < pageBytes) {
      const events = await bus.eventsAfter(sessionId, cursor, EVENTS_PER_READ);
      if (signal.aborted || !socket.connected) return undefined;
      if (events === null) {
        // Persistence lags the stream by at most a sync: a second miss in a row means it lags further.
        if (snapshotsInARow++ > 0) {
          options.ended(`the shared event stream no longer holds the events after ${cursor}`);
          return undefined;
        }
        await sendSnapshot();
        continue;
      }
      snapshotsInARow = 0;
      if (events.length === 0) {
        caughtUp = true;
        break;
      }
      for (const event of events) {
        socket.emit(event.type, event);
        cursor = event.seq;
        replayed += 1;
      }
    }
    if (!caughtUp) continue;
    let live = cursor;
    const subscription = bus.subscribe(sessionId, {
      afterSeq: cursor,
      onEvent: (event) => {
        live = event.seq;
        options.fanout.send(socket.id, event);
      },
      onTruncated: () => options.ended(`the shared event stream no longer holds the events after ${live}`),
    });
    const aborted = () => subscription.close();
    signal.addEventListener("abort", aborted, { once: true });
    await subscription.live;
    if (signal.aborted || !socket.connected) {
      subscription.close();
      return undefined;
    }
    onCaughtUp({ lastSeq: cursor, replayed, snapshot });
    return subscription;
  }
}
