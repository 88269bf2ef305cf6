import type { Server as HttpServer } from "node:http";
import {
  type JoinAck,
  joinRequestSchema,
  leaveRequestSchema,
  type SessionEvent,
  type SessionListAck,
  type SocketError,
  type SocketErrorEvent,
} from "@agent-runtime/protocol";
import { Server, type Socket } from "socket.io";
import type { ClusterEventBus, EventSubscription } from "../../cluster/cluster-event-bus.js";
import type { AgentRuntime } from "../../core/agent-runtime.js";
import { inScope } from "../../core/session-scope.js";
import { storedSessionSnapshot } from "../../core/stored-session-snapshot.js";
import { RuntimeError } from "../../errors.js";
import { bearerToken, type Caller, callerKey, callerTenant, scopeOf } from "../api-keys.js";
import type { Credentials } from "../credentials.js";
import { errorAck, errorReply, errorReplyFor } from "../error-reply.js";
import { clientAddress, type TrustProxy, trustFunction } from "../trusted-proxies.js";
import { followSessionOnBus } from "./bus-session-follow.js";
import { CallerLimits, type CallerSocket } from "./caller-limits.js";
import { FollowerFanout } from "./follower-fanout.js";
import { dropConnection, OutgoingQueue } from "./outgoing-queue.js";
import { replayInPages } from "./paged-replay.js";
import { joinDeliveryRoom, RoomFanout } from "./room-fanout.js";
import { resolveSocketLimits, type SocketLimitsInput } from "./socket-limits.js";

export interface SocketTransportOptions extends SocketLimitsInput {
  readonly runtime: AgentRuntime;
  /** The accepted API keys and browser tokens. */
  readonly credentials: Credentials;
  readonly corsOrigin?: string | string[] | boolean;
  /** The server's route prefix, normalized: socket.io answers at `<basePath>/socket.io/`. @default "" */
  readonly basePath?: string;
  /**
   * Cluster mode: sockets follow sessions on the cluster's shared event
   * stream, whichever node runs them (see `followSessionOnBus`), instead of
   * this process's session logs.
   */
  readonly cluster?: { readonly bus: ClusterEventBus };
  /**
   * Which reverse proxies' `X-Forwarded-For` to believe (see `TrustProxy`):
   * a handshake without a key is counted against the limits by the client
   * address they forwarded, exactly as HTTP requests are. @default false (the peer's address)
   */
  readonly trustProxy?: TrustProxy;
}

/** Bytes a replay page may add to a socket's queue (at most `maxBufferedBytes`). */
const REPLAY_PAGE_BYTES = 256 * 1024;

export function roomFor(sessionId: string): string {
  return `session:${sessionId}`;
}

/**
 * The room of the live session list a caller sees: every session for an
 * admin, one tenant's for a tenant's key (session rooms are `session:<id>`,
 * so neither can clash with them).
 */
function sessionListRoom(tenantId: string | undefined): string {
  return tenantId === undefined ? "sessions" : `sessions:tenant:${tenantId}`;
}

/**
 * socket.io on the HTTP server. `session:join {sessionId, afterSeq?}` replays
 * the missed events (or a `session:snapshot` when they are no longer held)
 * a page at a time and then delivers live events; the last page and the
 * room join happen in the same tick, so nothing falls in between (see
 * `replayInPages`), and the acknowledgement follows. A later join or a leave
 * of the same session replaces a replay still running. `sessions:subscribe`
 * joins the live session list (see `SessionListAck` in the protocol): the
 * room is joined before the list is read, so no change falls in between.
 *
 * Tenants: every socket acts for the caller its handshake credential (an
 * API key or a browser token, `auth.token` or an `Authorization` header)
 * resolves to. A tenant's socket joins only that tenant's sessions
 * (another's answers `SESSION_NOT_FOUND` exactly as a missing one) and its
 * session list holds only them (a caller narrowed to given sessions: those
 * only). A socket whose credential stops being accepted (see
 * `Credentials.watch`: its token expires, or a key rotation removes its key
 * or gives it to another caller) is sent an `error` event (`TOKEN_EXPIRED`
 * or `UNAUTHORIZED`, with `event: "connect"`) and disconnected.
 *
 * Limits (see `SocketLimitsInput`): every socket counts against its caller
 * (API key, or address without keys; behind a proxy `trustProxy` trusts,
 * the client address it forwarded): at most `maxSocketsPerCaller` at once
 * (the handshake is refused `TOO_MANY_SOCKETS`), and every event it emits
 * takes a token of the caller's bucket. An event over the rate is not
 * handled: its acknowledgement says `RATE_LIMITED` with `retryAfter`, or,
 * for events without one, an `error` event at the first refusal in a row;
 * a socket refused `maxRefusedInARow` times in a row is told so and
 * disconnected. Frames over `maxFrameBytes` close the
 * socket.
 *
 * Slow consumers: everything sent to a socket, live events and replay pages
 * alike, goes through its `OutgoingQueue`. A replay adds a page only once
 * the previous one is written, so replays hold at most a page (and the
 * event that ends it) per socket whatever their size or number, and cannot
 * trip the bound by themselves. Live events are queued as they happen: when
 * one leaves a socket of its room with more than `maxBufferedBytes` queued
 * behind what its connection is writing, or when a connection has not
 * finished writing a batch for `stallTimeoutMs` (a client that reads
 * nothing), the connection is closed at once, discarding the queue, so one
 * stalled client holds at most about twice the bound whatever it asks for
 * (the kernel's socket buffers come on top) and never slows the others. The
 * client sees a transport close, reconnects and re-joins with `afterSeq` for
 * what it missed.
 */
export function attachSocketTransport(httpServer: HttpServer, options: SocketTransportOptions): Server {
  const { runtime, credentials } = options;
  const limits = resolveSocketLimits(options);
  const callers = new CallerLimits(limits);
  const trust = trustFunction(options.trustProxy);
  const places = new WeakMap<Socket, CallerSocket>();
  /** Whom each socket acts for (its handshake key's caller). */
  const socketCallers = new WeakMap<Socket, Caller>();
  const queues = new Map<Socket, OutgoingQueue>();
  const pageBytes = Math.min(REPLAY_PAGE_BYTES, limits.maxBufferedBytes);
  const io = new Server(httpServer, {
    path: `${options.basePath ?? ""}/socket.io`,
    maxHttpBufferSize: limits.maxFrameBytes,
    cors: { origin: options.corsOrigin ?? true },
    serveClient: false,
  });

  const dropSlow = (socket: Socket, reason: string, details: Record<string, unknown>): void => {
    if (!socket.connected) return;
    runtime.logger.warn(
      { socketId: socket.id, ...details },
      `dropping a slow consumer (socket client): ${reason}; it resumes with afterSeq when it reconnects`,
    );
    dropConnection(socket);
  };

  io.use(async (socket, next) => {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token =
      (typeof auth?.token === "string" ? auth.token : undefined) ??
      bearerToken(socket.handshake.headers.authorization);
    const resolution = await credentials.resolve(token);
    if (!resolution.ok) return next(handshakeError(resolution.code, resolution.message));
    const { caller } = resolution;
    socketCallers.set(socket, caller);
    const place = callers.connect(callerKey(caller, clientAddress(socket.request, trust)));
    if (!place) {
      return next(
        handshakeError(
          "TOO_MANY_SOCKETS",
          `This caller already holds ${limits.maxSocketsPerCaller} sockets, the most it may; close one first`,
        ),
      );
    }
    places.set(socket, place);
    // The connection may close before the socket connects, when no `disconnect` follows.
    socket.conn.once("close", () => place.release());
    next();
  });

  /** Drops the sockets of `room` whose queue a broadcast took over the bound. */
  const checkRoom = (room: string): void => {
    for (const id of io.of("/").adapter.rooms.get(room) ?? []) {
      const socket = io.of("/").sockets.get(id);
      if (socket) checkSocket(socket, room);
    }
  };
  /** Drops `socket` when what was sent to it (in `room`) took its queue over the bound. */
  const checkSocket = (socket: Socket, room: string): void => {
    const queuedBytes = queues.get(socket)?.queuedBytes;
    if (queuedBytes !== undefined && queuedBytes > limits.maxBufferedBytes) {
      dropSlow(socket, `its outgoing queue is over ${limits.maxBufferedBytes} bytes`, { room, queuedBytes });
    }
  };
  /**
   * Sockets following the session list whose caller is narrowed to given
   * sessions (no list room holds only those): each is sent the changes of
   * its sessions alone.
   */
  const narrowedListFollowers = new Map<Socket, readonly string[]>();
  const fanout = new RoomFanout(io, checkRoom);
  /** Cluster mode: the live events of sessions sockets follow on the shared stream. */
  const followerFanout = new FollowerFanout(io, (socketId, sessionId) => {
    const socket = io.of("/").sockets.get(socketId);
    if (socket) checkSocket(socket, roomFor(sessionId));
  });
  const unsubscribe = options.cluster
    ? () => undefined
    : runtime.sessions.subscribeAll((event: SessionEvent) => fanout.publish(roomFor(event.sessionId), event));
  const unsubscribeList = runtime.sessions.listFeed.subscribe((change) => {
    const tenantId = change.type === "updated" ? change.session.tenantId : change.tenantId;
    const rooms = [
      sessionListRoom(undefined),
      ...(tenantId === undefined ? [] : [sessionListRoom(tenantId)]),
    ];
    const [event, payload] =
      change.type === "updated"
        ? (["sessions:updated", { session: change.session }] as const)
        : (["sessions:deleted", { sessionId: change.sessionId }] as const);
    io.to(rooms).emit(event, payload);
    for (const room of rooms) checkRoom(room);
    const sessionId = change.type === "updated" ? change.session.sessionId : change.sessionId;
    for (const [socket, sessionIds] of narrowedListFollowers) {
      if (!sessionIds.includes(sessionId)) continue;
      // Within a tenant's room only: a narrowed caller of one tenant follows no other's sessions.
      if (!rooms.includes(sessionListRoom(callerTenant(socketCallers.get(socket)!)))) continue;
      socket.emit(event, payload);
      checkSocket(socket, "sessions");
    }
  });
  const stallSweep = setInterval(
    () => {
      for (const [socket, queue] of queues) {
        const writingForMs = queue.writingForMs();
        if (writingForMs > limits.stallTimeoutMs) {
          dropSlow(socket, `it has not read for ${Math.round(writingForMs)} ms`, {
            pendingBytes: queue.pendingBytes,
          });
        }
      }
    },
    Math.min(1000, limits.stallTimeoutMs / 4),
  ).unref();
  httpServer.on("close", () => {
    fanout.close();
    followerFanout.close();
    clearInterval(stallSweep);
    unsubscribe();
    unsubscribeList();
  });

  /** Logs a failure that a client is told about as a 5xx (see `errorReply`). */
  const logFailure = (error: unknown, request: string): void => {
    if (errorReply(error).status >= 500)
      runtime.logger.error({ err: error, request }, "socket request failed");
  };

  io.on("connection", (socket: Socket) => {
    // Set by the handshake middleware, which every connection passed.
    const caller = socketCallers.get(socket)!;
    const scope = scopeOf(caller);
    const listRoom = sessionListRoom(callerTenant(caller));
    const followList = (): void => {
      if (caller.sessionIds) narrowedListFollowers.set(socket, caller.sessionIds);
      else socket.join(listRoom);
    };
    const unfollowList = (): void => {
      narrowedListFollowers.delete(socket);
      socket.leave(listRoom);
    };
    const stopCredentialWatch = credentials.watch(caller, ({ code, message }) => {
      socket.emit("error", {
        ...errorReplyFor(code, message).body.error,
        event: "connect",
      } satisfies SocketErrorEvent);
      socket.disconnect(true);
    });
    joinDeliveryRoom(socket);
    const queue = new OutgoingQueue(socket.conn);
    queues.set(socket, queue);
    /**
     * Per session, the join whose replay is running (aborted when a later
     * join or a leave replaces it); in cluster mode, the session's follow
     * on the shared stream, as long as it lasts.
     */
    const replays = new Map<string, AbortController>();
    const replaceReplay = (sessionId: string): AbortController => {
      replays.get(sessionId)?.abort(REPLACED);
      const controller = new AbortController();
      replays.set(sessionId, controller);
      return controller;
    };
    socket.on("disconnect", () => {
      stopCredentialWatch();
      queues.delete(socket);
      narrowedListFollowers.delete(socket);
      places.get(socket)?.release();
      for (const controller of replays.values()) controller.abort(REPLACED);
      replays.clear();
    });

    socket.use((packet, next) => {
      // Events the client sent before it was disconnected are still on their way through.
      if (!socket.connected) return;
      const place = places.get(socket);
      const admission = place ? place.admit() : { ok: true as const };
      if (admission.ok) return next();
      const [event] = packet;
      const error: SocketError = {
        ...errorReplyFor(
          "RATE_LIMITED",
          admission.disconnect
            ? `Too many events over the rate limit; disconnected`
            : `Rate limit exceeded; retry in ${admission.retryAfter} s`,
        ).body.error,
        retryAfter: admission.retryAfter,
      };
      const ack = packet.at(-1);
      if (typeof ack === "function") ack({ ok: false, error });
      else if (admission.refusedInARow === 1 || admission.disconnect)
        socket.emit("error", { ...error, event: String(event) } satisfies SocketErrorEvent);
      if (admission.disconnect) {
        runtime.logger.warn(
          { socketId: socket.id, refusedInARow: admission.refusedInARow },
          "disconnecting a socket client that kept sending events over its rate limit",
        );
        socket.disconnect(true);
      }
    });

    socket.on("session:join", async (payload: unknown, ack?: (answer: JoinAck) => void) => {
      const reply = typeof ack === "function" ? ack : () => undefined;
      const parsed = joinRequestSchema.safeParse(payload);
      if (!parsed.success) {
        reply({ ok: false, error: errorReplyFor("VALIDATION_FAILED", parsed.error.message).body.error });
        return;
      }
      const { sessionId, afterSeq } = parsed.data;
      const room = roomFor(sessionId);
      const replay = replaceReplay(sessionId);
      if (options.cluster) {
        await joinOnBus(options.cluster.bus, sessionId, afterSeq, replay, reply);
        return;
      }
      try {
        const session = await runtime.sessions.get(sessionId, scope);
        if (replay.signal.aborted) return reply(replaced());
        if (afterSeq === undefined) {
          replays.delete(sessionId);
          socket.join(room);
          reply({ ok: true, sessionId, lastSeq: session.log.lastSeq, replayed: 0, snapshot: false });
          return;
        }
        // Live events resume from the log once the replay has caught up.
        socket.leave(room);
        const outcome = await replayInPages(
          { socket, queue, session, afterSeq, room, pageBytes, signal: replay.signal },
          ({ lastSeq, replayed, snapshot }) => reply({ ok: true, sessionId, lastSeq, replayed, snapshot }),
        );
        if (!outcome) return reply(replaced());
        if (replays.get(sessionId) === replay) replays.delete(sessionId);
      } catch (error) {
        if (replays.get(sessionId) === replay) replays.delete(sessionId);
        logFailure(error, "session:join");
        reply(errorAck(error));
      }
    });

    /** Cluster mode's join: the session is followed on the shared stream, wherever it runs. */
    const joinOnBus = async (
      bus: ClusterEventBus,
      sessionId: string,
      afterSeq: number | undefined,
      follow: AbortController,
      reply: (answer: JoinAck) => void,
    ): Promise<void> => {
      let subscription: EventSubscription | undefined;
      try {
        const summary = await runtime.sessions.currentSummary(sessionId);
        if (!summary || !inScope(summary, scope))
          throw new RuntimeError("SESSION_NOT_FOUND", `Session ${sessionId} not found`);
        if (follow.signal.aborted) return reply(replaced());
        const busLast = await bus.lastSeq(sessionId);
        const start = afterSeq ?? busLast ?? summary.lastSeq;
        subscription = await followSessionOnBus(
          {
            socket,
            queue,
            bus,
            sessionId,
            afterSeq: start,
            pageBytes,
            signal: follow.signal,
            snapshotFirst: busLast === undefined && start < summary.lastSeq,
            snapshot: async () => {
              const data = runtime.sessions.isLive(sessionId)
                ? (await runtime.sessions.get(sessionId)).snapshot()
                : await storedSessionSnapshot(runtime.sessions.persistence, sessionId);
              if (!data) throw new RuntimeError("SESSION_NOT_FOUND", `Session ${sessionId} not found`);
              return data;
            },
            fanout: followerFanout,
            ended: (reason) => dropSlow(socket, reason, { sessionId }),
          },
          ({ lastSeq, replayed, snapshot }) => reply({ ok: true, sessionId, lastSeq, replayed, snapshot }),
        );
        if (!subscription) return reply(replaced());
        // The follow lasts until a later join or a leave of the session, or the disconnect, aborts it.
        follow.signal.addEventListener("abort", () => subscription?.close(), { once: true });
      } catch (error) {
        subscription?.close();
        if (replays.get(sessionId) === follow) replays.delete(sessionId);
        logFailure(error, "session:join");
        reply(errorAck(error));
      }
    };

    socket.on("sessions:subscribe", async (...args: unknown[]) => {
      const ack = args.find((arg): arg is (answer: SessionListAck) => void => typeof arg === "function");
      followList();
      try {
        const sessions = await runtime.sessions.list(scope);
        ack?.({ ok: true, sessions });
      } catch (error) {
        unfollowList();
        logFailure(error, "sessions:subscribe");
        ack?.(errorAck(error));
      }
    });

    socket.on("sessions:unsubscribe", (...args: unknown[]) => {
      unfollowList();
      const ack = args.find((arg): arg is (answer: { ok: boolean }) => void => typeof arg === "function");
      ack?.({ ok: true });
    });

    socket.on("session:leave", (payload: unknown, ack?: (answer: { ok: boolean }) => void) => {
      const parsed = leaveRequestSchema.safeParse(payload);
      if (parsed.success) {
        replays.get(parsed.data.sessionId)?.abort(REPLACED);
        replays.delete(parsed.data.sessionId);
        socket.leave(roomFor(parsed.data.sessionId));
      }
      if (typeof ack === "function") ack({ ok: parsed.success });
    });
  });

  return io;
}

/** Why a replay was aborted (a reason of our own: aborting without one builds a `DOMException` and its stack). */
const REPLACED = "replaced";

/** A refused handshake: the client's `connect_error` carries `{code, message}` as its `data`. */
function handshakeError(code: "UNAUTHORIZED" | "TOKEN_EXPIRED" | "TOO_MANY_SOCKETS", message: string): Error {
  const error = new Error(message) as Error & { data?: unknown };
  error.data = errorReplyFor(code, message).body.error;
  return error;
}

/** The answer to a join whose replay a later join or leave of the same session replaced. */
function replaced(): JoinAck {
  return {
    ok: false,
    error: errorReplyFor("CONFLICT", "Replaced by a later session:join or session:leave of this session").body
      .error,
  };
}
