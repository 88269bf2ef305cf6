import type { Server as HttpServer } from "node:http";
import {
  type JoinAck,
  joinRequestSchema,
  leaveRequestSchema,
  type SessionEvent,
  type SessionListAck,
} from "@agent-runtime/protocol";
import { Server, type Socket } from "socket.io";
import type { AgentRuntime } from "../../core/agent-runtime.js";
import { type ApiKeyChecker, bearerToken } from "../api-keys.js";
import { errorAck, errorReply, errorReplyFor } from "../error-reply.js";

export interface SocketTransportOptions {
  readonly runtime: AgentRuntime;
  readonly apiKeys: ApiKeyChecker;
  /** Largest accepted socket frame; bigger ones close the socket. @default 1_048_576 */
  readonly maxFrameBytes?: number;
  /**
   * Outgoing bytes a socket may have queued (not yet handed to its
   * connection) before it is dropped as a slow consumer; see
   * `attachSocketTransport`. @default 16_777_216
   */
  readonly maxBufferedBytes?: number;
  readonly corsOrigin?: string | string[] | boolean;
}

export function roomFor(sessionId: string): string {
  return `session:${sessionId}`;
}

/** The room of the live session list (session rooms are `session:<id>`, so it cannot clash). */
const SESSION_LIST_ROOM = "sessions";

/**
 * socket.io on the HTTP server. `session:join {sessionId, afterSeq?}` replays
 * the missed events (or a `session:snapshot` when they are no longer held)
 * and then delivers live events; replay and room join happen in the same
 * tick, so nothing falls in between. `sessions:subscribe` joins the live
 * session list (see `SessionListAck` in the protocol): the room is joined
 * before the list is read, so no change falls in between.
 *
 * Slow consumers: a client that does not read (stalled, or slower than the
 * stream) makes its outgoing queue grow. After each live event the queue of
 * every socket in the event's room is checked; past `maxBufferedBytes` the
 * connection is closed at once, discarding the queue, so one stalled client
 * holds at most about twice that (the queue plus the batch its connection is
 * still writing; the kernel's socket buffers come on top) and never slows
 * the others. The client sees a transport close, reconnects and re-joins
 * with `afterSeq` for what it missed. Replays and snapshots are not checked
 * as they are queued, so a large replay to a healthy client cannot trip the
 * bound by itself.
 */
export function attachSocketTransport(httpServer: HttpServer, options: SocketTransportOptions): Server {
  const { runtime, apiKeys } = options;
  const maxBufferedBytes = options.maxBufferedBytes ?? 16_777_216;
  const queues = new WeakMap<Socket, OutgoingQueue>();
  const io = new Server(httpServer, {
    maxHttpBufferSize: options.maxFrameBytes ?? 1_048_576,
    cors: { origin: options.corsOrigin ?? true },
    serveClient: false,
  });

  io.use((socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token =
      (typeof auth?.token === "string" ? auth.token : undefined) ??
      bearerToken(socket.handshake.headers.authorization);
    if (apiKeys.accepts(token)) return next();
    const error = new Error("Unauthorized") as Error & { data?: unknown };
    error.data = errorReplyFor("UNAUTHORIZED", "A valid API key is required").body.error;
    next(error);
  });

  const unsubscribe = runtime.sessions.subscribeAll((event: SessionEvent) => {
    const room = roomFor(event.sessionId);
    io.to(room).emit(event.type, event);
    for (const id of io.of("/").adapter.rooms.get(room) ?? []) {
      const socket = io.of("/").sockets.get(id);
      const queued = socket ? (queues.get(socket)?.bytes ?? 0) : 0;
      if (socket && queued > maxBufferedBytes) {
        runtime.logger.warn(
          { socketId: socket.id, sessionId: event.sessionId, queuedBytes: queued },
          "dropping a slow socket client: its outgoing queue is over the limit",
        );
        dropConnection(socket);
      }
    }
  });
  const unsubscribeList = runtime.sessions.listFeed.subscribe((change) => {
    if (change.type === "updated")
      io.to(SESSION_LIST_ROOM).emit("sessions:updated", { session: change.session });
    else io.to(SESSION_LIST_ROOM).emit("sessions:deleted", { sessionId: change.sessionId });
  });
  httpServer.on("close", () => {
    unsubscribe();
    unsubscribeList();
  });

  /** Logs a failure that a client is told about as a 5xx (see `errorReply`). */
  const logFailure = (error: unknown, request: string): void => {
    if (errorReply(error).status >= 500)
      runtime.logger.error({ err: error, request }, "socket request failed");
  };

  io.on("connection", (socket: Socket) => {
    queues.set(socket, trackOutgoingQueue(socket));
    socket.on("session:join", async (payload: unknown, ack?: (answer: JoinAck) => void) => {
      const reply = typeof ack === "function" ? ack : () => undefined;
      const parsed = joinRequestSchema.safeParse(payload);
      if (!parsed.success) {
        reply({ ok: false, error: errorReplyFor("VALIDATION_FAILED", parsed.error.message).body.error });
        return;
      }
      const { sessionId, afterSeq } = parsed.data;
      try {
        const session = await runtime.sessions.get(sessionId);
        let replayed = 0;
        let snapshot = false;
        if (afterSeq !== undefined) {
          const resumed = session.resume(afterSeq);
          if (resumed.kind === "snapshot") {
            snapshot = true;
            const data = resumed.snapshot;
            socket.emit("session:snapshot", { sessionId, seq: data.lastSeq, session: data });
          } else {
            for (const event of resumed.events) socket.emit(event.type, event);
            replayed = resumed.events.length;
          }
        }
        socket.join(roomFor(sessionId));
        reply({ ok: true, sessionId, lastSeq: session.log.lastSeq, replayed, snapshot });
      } catch (error) {
        logFailure(error, "session:join");
        reply(errorAck(error));
      }
    });

    socket.on("sessions:subscribe", async (...args: unknown[]) => {
      const ack = args.find((arg): arg is (answer: SessionListAck) => void => typeof arg === "function");
      socket.join(SESSION_LIST_ROOM);
      try {
        const sessions = await runtime.sessions.list();
        ack?.({ ok: true, sessions });
      } catch (error) {
        socket.leave(SESSION_LIST_ROOM);
        logFailure(error, "sessions:subscribe");
        ack?.(errorAck(error));
      }
    });

    socket.on("sessions:unsubscribe", (...args: unknown[]) => {
      socket.leave(SESSION_LIST_ROOM);
      const ack = args.find((arg): arg is (answer: { ok: boolean }) => void => typeof arg === "function");
      ack?.({ ok: true });
    });

    socket.on("session:leave", (payload: unknown, ack?: (answer: { ok: boolean }) => void) => {
      const parsed = leaveRequestSchema.safeParse(payload);
      if (parsed.success) socket.leave(roomFor(parsed.data.sessionId));
      if (typeof ack === "function") ack({ ok: parsed.success });
    });
  });

  return io;
}

/** Approximate bytes of a socket's engine.io write buffer, kept current from the connection's events. */
interface OutgoingQueue {
  readonly bytes: number;
}

function trackOutgoingQueue(socket: Socket): OutgoingQueue {
  const queue = { bytes: 0 };
  socket.conn.on("packetCreate", (packet: { data?: unknown }) => {
    const { data } = packet;
    if (typeof data === "string") queue.bytes += data.length;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) queue.bytes += data.byteLength;
  });
  // A flush hands the whole write buffer to the transport.
  socket.conn.on("flush", () => {
    queue.bytes = 0;
  });
  return queue;
}

/**
 * Closes a socket's connection without waiting for its queue to drain (a
 * graceful close would wait for a reader that never comes), and tears down
 * the underlying WebSocket so the bytes it still holds are released now
 * rather than after the close handshake times out.
 */
function dropConnection(socket: Socket): void {
  const transport = socket.conn.transport as { socket?: { terminate?: () => void } };
  socket.conn.close(true);
  transport.socket?.terminate?.();
}
