import type { SessionEvent } from "@agent-runtime/protocol";
import type { Server } from "socket.io";
import { emitEvents } from "./room-fanout.js";

/** One event waiting to be written, and the sockets it is for. */
interface Pending {
  readonly event: SessionEvent;
  readonly socketIds: string[];
}

/**
 * Cluster mode's counterpart of `RoomFanout`: live events of sessions
 * followed on the shared stream, each socket following on its own cursor
 * (see `followSessionOnBus`), yet each event encoded once per node. `send`
 * queues an event for one socket; on the next turn of the event loop every
 * event is written once to all the sockets it was queued for (the followers
 * of a session receive an event in the same turn, from one message of the
 * stream), and consecutive events bound for the same sockets go as one
 * `session:events` batch to the sockets that take batches (see `emitEvents`).
 *
 * Each socket gets its events in `seq` order, as they were sent to it, none
 * twice. `flush` writes everything pending at once: call it before writing
 * anything else to a socket of a session (a replay, a snapshot), so pending
 * live events stay ahead of it. `onSent(socketId, sessionId)` runs after
 * each write of a session's events, for every socket they went to (for the
 * slow-consumer check).
 */
export class FollowerFanout {
  /** Per session, its pending events by seq. */
  private readonly pending = new Map<string, Map<number, Pending>>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly io: Server,
    private readonly onSent: (socketId: string, sessionId: string) => void,
  ) {}

  /** Queues `event` for the socket `socketId`; it is written on the next turn of the event loop. */
  send(socketId: string, event: SessionEvent): void {
    let events = this.pending.get(event.sessionId);
    if (!events) {
      events = new Map();
      this.pending.set(event.sessionId, events);
    }
    const entry = events.get(event.seq);
    if (entry) entry.socketIds.push(socketId);
    else events.set(event.seq, { event, socketIds: [socketId] });
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes everything pending now. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const sessions = [...this.pending];
    this.pending.clear();
    for (const [sessionId, events] of sessions) {
      // Sockets catching up may have queued later events before others queued earlier ones.
      const entries = [...events.values()].sort((a, b) => a.event.seq - b.event.seq);
      let run: Pending[] = [];
      for (const entry of entries) {
        if (run.length > 0 && !sameSockets(run[0]!.socketIds, entry.socketIds)) {
          this.write(run);
          run = [];
        }
        run.push(entry);
      }
      this.write(run);
      const sent = new Set<string>();
      for (const entry of entries) for (const id of entry.socketIds) sent.add(id);
      for (const id of sent) this.onSent(id, sessionId);
    }
  }

  /** Stops writing; what is pending is dropped (the server is closing). */
  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending.clear();
  }

  private write(run: readonly Pending[]): void {
    const [first] = run;
    if (first)
      emitEvents(
        this.io,
        first.socketIds,
        run.map((entry) => entry.event),
      );
  }
}

function sameSockets(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}
