import { SESSION_EVENT_BATCH, type SessionEvent, type SessionEventBatch } from "@agent-runtime/protocol";
import type { Server, Socket } from "socket.io";

/** Room of the sockets that take `session:events` batches (asked with `auth.batchEvents` in their handshake). */
const BATCH_SOCKETS = "delivery:batch";
/** Room of the sockets that take events one by one (every other socket). */
const SINGLE_SOCKETS = "delivery:single";

/**
 * Puts a connected socket in the delivery room its handshake asked for (see
 * `SESSION_EVENT_BATCH`). Call once, on connection, before it joins sessions.
 */
export function joinDeliveryRoom(socket: Socket): void {
  const auth = socket.handshake.auth as { batchEvents?: unknown } | undefined;
  socket.join(auth?.batchEvents === true ? BATCH_SOCKETS : SINGLE_SOCKETS);
}

/** Events of one room bound for the same sockets. */
interface Group {
  /**
   * The ids of the sockets the events are for; undefined: the sockets of
   * the room now (no socket joined or left it since the group began).
   */
  members: readonly string[] | undefined;
  readonly events: SessionEvent[];
}

/**
 * Session events to the sockets of their room, each encoded once for all of
 * them (socket.io encodes a broadcast once and writes the same WebSocket
 * frame to every socket), written on the next turn of the event loop rather
 * than as they come. When a session produced several events before they
 * could be written (its agent wrote a burst, or the server fell behind), the
 * sockets that take batches get them in one `session:events` frame: one
 * write per socket per burst rather than per event, so a server behind
 * catches up instead of queueing. Other sockets get the same events one by
 * one.
 *
 * Who gets an event is decided when it is published, exactly as an
 * immediate `io.to(room).emit` would: a socket that joins the room after
 * (with its replay, which already holds the event) is not sent it, and one
 * that left still is. Events of a room keep their order; `onSent(room)` runs
 * after each write of a room (for the slow-consumer check).
 */
export class RoomFanout {
  private readonly pending = new Map<string, Group[]>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly io: Server,
    private readonly onSent: (room: string) => void,
  ) {
    const adapter = io.of("/").adapter;
    // The adapter tells after the change: the sockets before it are those now, less or plus the one.
    adapter.on("join-room", (room: string, id: string) =>
      this.membershipChanged(room, (members) => members.filter((member) => member !== id)),
    );
    adapter.on("leave-room", (room: string, id: string) =>
      this.membershipChanged(room, (members) => [...members, id]),
    );
  }

  /** Queues `event` for the sockets of `room` now; it is written on the next turn of the event loop. */
  publish(room: string, event: SessionEvent): void {
    let groups = this.pending.get(room);
    if (!groups) {
      groups = [];
      this.pending.set(room, groups);
    }
    const last = groups.at(-1);
    if (last && last.members === undefined) last.events.push(event);
    else groups.push({ members: undefined, events: [event] });
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes everything pending now. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const rooms = [...this.pending];
    this.pending.clear();
    for (const [room, groups] of rooms) {
      for (const group of groups) emitEvents(this.io, group.members ?? room, group.events);
      this.onSent(room);
    }
  }

  /** Stops writing; what is pending is dropped (the server is closing). */
  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending.clear();
  }

  /** Fixes the sockets of `room`'s open group to those before a change (`before` of those now). */
  private membershipChanged(room: string, before: (members: string[]) => string[]): void {
    const last = this.pending.get(room)?.at(-1);
    if (last && last.members === undefined) last.members = before(this.membersOf(room));
  }

  private membersOf(room: string): string[] {
    return [...(this.io.of("/").adapter.rooms.get(room) ?? [])];
  }
}

/**
 * Emits consecutive events of one session to `target` (a room, or socket
 * ids), each frame encoded once for all its sockets: one event alone to
 * every socket; several as one `session:events` batch to the sockets that
 * take batches and one by one to the others.
 */
export function emitEvents(
  io: Server,
  target: string | readonly string[],
  events: readonly SessionEvent[],
): void {
  const [first] = events;
  if (!first) return;
  const to = io.to(target as string | string[]);
  if (events.length === 1) {
    to.emit(first.type, first);
    return;
  }
  const batch: SessionEventBatch = { sessionId: first.sessionId, events };
  to.except(SINGLE_SOCKETS).emit(SESSION_EVENT_BATCH, batch);
  const singles = to.except(BATCH_SOCKETS);
  for (const event of events) singles.emit(event.type, event);
}
