import {
  type JoinAck,
  SESSION_EVENT_BATCH,
  type SessionData,
  type SessionListAck,
  type SessionsDeletedEvent,
  type SessionsUpdatedEvent,
} from "@agent-runtime/protocol";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { AgentRuntimeError } from "./agent-runtime-error.js";
import type { WireEvent } from "./apply-event.js";
import type { ReceiveOutcome } from "./session-store.js";
import { TokenSource, type TokenSourceOptions } from "./token-source.js";

/** How a joined session takes what the socket delivers. */
export interface SessionSubscriber {
  /** The last `seq` the session holds; every (re)join asks for the events after it. */
  cursor(): number;
  /** A live or replayed event; `"gap"` makes the connection resume the session from `cursor()`. */
  onEvent(event: WireEvent): ReceiveOutcome;
  /** Full data, sent instead of a replay when the server no longer holds the missed events. */
  onSnapshot(data: SessionData): void;
  /** The server refused the join (e.g. `SESSION_NOT_FOUND`). */
  onJoinFailed(error: AgentRuntimeError): void;
}

/** How the live session list takes what the socket delivers (see `followSessionList`). */
export interface SessionListSubscriber {
  /** The full list, on every (re)subscription; changes delivered before it are older than it. */
  onList(sessions: SessionsUpdatedEvent["session"][]): void;
  /** A session was created or its summary changed. */
  onUpdated(session: SessionsUpdatedEvent["session"]): void;
  onDeleted(sessionId: string): void;
  /** The subscription or the connection failed (`UNAUTHORIZED`, `NETWORK_ERROR`, …); retried on reconnect. */
  onFailed(error: AgentRuntimeError): void;
}

export type ConnectionStatus = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected";

export interface ConnectionState {
  readonly status: ConnectionStatus;
  /** Why the last connection attempt failed (`UNAUTHORIZED`, `NETWORK_ERROR`, …); cleared on connect. */
  readonly error: AgentRuntimeError | undefined;
}

/**
 * `apiKey`, `token` or `getToken` (see `TokenSourceOptions`) is sent on
 * every handshake as `auth: {token}`, asked for again before each
 * (re)connection; with `getToken`, a handshake refused `UNAUTHORIZED` or
 * `TOKEN_EXPIRED` is tried once more with a fresh token, and a socket the
 * server disconnects at its token's expiry reconnects with the next one.
 */
export interface SocketConnectionOptions extends TokenSourceOptions {
  /**
   * The server's base URL (usually the REST base URL). A path in it is the
   * server's route prefix: `http://host/api` connects to socket.io at
   * `/api/socket.io/` (unless `socketOptions.path` says otherwise).
   */
  readonly wsUrl: string;
  /** A credential shared with a REST client; replaces `apiKey`, `token` and `getToken`. */
  readonly tokenSource?: TokenSource;
  /** First reconnection delay in ms; doubles per attempt, with ±50 % jitter. @default 500 */
  readonly reconnectionDelayMs?: number;
  /** @default 5000 */
  readonly reconnectionDelayMaxMs?: number;
  /** How long to wait for a join acknowledgement before asking again. @default 10000 */
  readonly joinTimeoutMs?: number;
  /** Extra socket.io-client options (e.g. `transports`, `path`). */
  readonly socketOptions?: Partial<ManagerOptions & SocketOptions>;
  readonly log?: (message: string, details?: unknown) => void;
}

/**
 * One socket.io connection shared by every session of a client. It connects
 * on the first `join` (or `followSessionList`) and reconnects with exponential backoff (also after a
 * server-side disconnect), and on every (re)connect joins each subscribed
 * session again with `afterSeq = cursor()`: the server replays exactly the
 * missed events (or sends a snapshot), so nothing is lost, and the
 * subscriber drops anything it already holds, so nothing is doubled. A gap
 * in the sequence triggers the same resume. The live session list follows
 * the same pattern: subscribed again, with a fresh full list, on reconnect.
 * A join or subscription refused `RATE_LIMITED` is asked again after the
 * server's `retryAfter`; a handshake refused `RATE_LIMITED` or
 * `TOO_MANY_SOCKETS` is tried again after `reconnectionDelayMaxMs`. A
 * server that drops the connection (a slow consumer) is a disconnect like
 * any other: reconnect, then resume from each cursor.
 */
export class SocketConnection {
  /** The underlying socket (e.g. to drop the transport in tests: `socket.io.engine.close()`). */
  readonly socket: Socket;
  private readonly subscribers = new Map<string, SessionSubscriber>();
  private listSubscriber: SessionListSubscriber | undefined;
  /** Generation of the `sessions:subscribe` in flight (undefined: none). */
  private listJoining: number | undefined;
  /** Per session, the generation of the join in flight (absent: none in flight). */
  private readonly joining = new Map<string, number>();
  private generation = 0;
  /** Retries waiting for the server's rate limit (`retryAfter`) or socket limit; cleared by `close`. */
  private readonly retries = new Set<ReturnType<typeof setTimeout>>();
  private readonly retryDelayMs: number;
  private state: ConnectionState = { status: "idle", error: undefined };
  private readonly listeners = new Set<() => void>();
  private readonly joinTimeoutMs: number;
  private readonly log: (message: string, details?: unknown) => void;
  private readonly tokens: TokenSource;
  /** True after a refused handshake was retried with a fresh token, until a connection succeeds. */
  private refreshedAfterRefusal = false;

  constructor(options: SocketConnectionOptions) {
    this.tokens = options.tokenSource ?? new TokenSource(options);
    this.joinTimeoutMs = options.joinTimeoutMs ?? 10_000;
    this.retryDelayMs = options.reconnectionDelayMaxMs ?? 5000;
    this.log = options.log ?? (() => undefined);
    const { origin, path } = socketAddress(options.wsUrl);
    this.socket = io(origin, {
      path,
      autoConnect: false,
      forceNew: true,
      reconnectionDelay: options.reconnectionDelayMs ?? 500,
      reconnectionDelayMax: options.reconnectionDelayMaxMs ?? 5000,
      randomizationFactor: 0.5,
      // `batchEvents`: this client takes `session:events` batches (see `SESSION_EVENT_BATCH`).
      auth: (send: (auth: { token?: string; batchEvents: true }) => void) => {
        this.tokens.current().then(
          (token) => send(token ? { token, batchEvents: true } : { batchEvents: true }),
          (error: unknown) => {
            this.log("getToken failed", error);
            send({ batchEvents: true });
          },
        );
      },
      ...options.socketOptions,
    });
    this.socket.on("connect", () => this.onConnect());
    this.socket.on("disconnect", (reason) => this.onDisconnect(reason));
    this.socket.on("connect_error", (error) => this.onConnectError(error));
    this.socket.onAny((name: string, payload: unknown) => this.route(name, payload));
  }

  readonly getSnapshot = (): ConnectionState => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Opens the connection unless it is open or opening. */
  connect(): void {
    if (this.socket.connected || this.socket.active) return;
    this.setState({ status: "connecting", error: this.state.error });
    this.socket.connect();
  }

  /**
   * Subscribes a session (replacing an earlier subscriber) and joins it now
   * when connected, else on connect. Calling it again for a joined session
   * re-joins from the subscriber's cursor (used after a resync).
   */
  join(sessionId: string, subscriber: SessionSubscriber): void {
    this.subscribers.set(sessionId, subscriber);
    this.connect();
    if (this.socket.connected) this.sendJoin(sessionId);
  }

  /**
   * Follows the live session list (replacing an earlier subscriber): connects
   * if needed and sends `sessions:subscribe` now and after every reconnect;
   * each acknowledgement delivers the full list, then changes follow.
   */
  followSessionList(subscriber: SessionListSubscriber): void {
    this.listSubscriber = subscriber;
    this.connect();
    if (this.socket.connected) this.sendListSubscribe();
  }

  /** Stops following the session list. Idempotent. */
  unfollowSessionList(): void {
    if (!this.listSubscriber) return;
    this.listSubscriber = undefined;
    this.listJoining = undefined;
    if (this.socket.connected) this.socket.emit("sessions:unsubscribe");
  }

  /** Stops delivering the session's events. Idempotent. */
  leave(sessionId: string): void {
    if (!this.subscribers.delete(sessionId)) return;
    this.joining.delete(sessionId);
    if (this.socket.connected) this.socket.emit("session:leave", { sessionId });
  }

  /** Disconnects and drops every subscriber; a later `join` connects again. Idempotent. */
  close(): void {
    for (const retry of this.retries) clearTimeout(retry);
    this.retries.clear();
    this.subscribers.clear();
    this.joining.clear();
    this.listSubscriber = undefined;
    this.listJoining = undefined;
    this.socket.disconnect();
    this.setState({ status: "disconnected", error: undefined });
  }

  private sendJoin(sessionId: string): void {
    const subscriber = this.subscribers.get(sessionId);
    if (!subscriber) return;
    const generation = ++this.generation;
    this.joining.set(sessionId, generation);
    const afterSeq = subscriber.cursor();
    this.log("join", { sessionId, afterSeq });
    this.socket
      .timeout(this.joinTimeoutMs)
      .emit("session:join", { sessionId, afterSeq }, (error: Error | null, ack: JoinAck) => {
        if (this.joining.get(sessionId) !== generation) return;
        if (!error && !ack.ok && ack.error.code === "RATE_LIMITED") {
          // Still joining (a gap does not ask again meanwhile); a disconnect, a leave or a later join cancels it.
          this.retryAfter(ack.error.retryAfter, () => {
            if (this.joining.get(sessionId) === generation && this.socket.connected) this.sendJoin(sessionId);
          });
          return;
        }
        this.joining.delete(sessionId);
        if (error) {
          // Timed out or disconnected: a reconnect joins again; a live socket asks again.
          if (this.socket.connected) this.sendJoin(sessionId);
          return;
        }
        this.log("joined", ack);
        if (!ack.ok) subscriber.onJoinFailed(new AgentRuntimeError(ack.error.code, ack.error.message));
      });
  }

  private sendListSubscribe(): void {
    const subscriber = this.listSubscriber;
    if (!subscriber) return;
    const generation = ++this.generation;
    this.listJoining = generation;
    this.socket
      .timeout(this.joinTimeoutMs)
      .emit("sessions:subscribe", (error: Error | null, ack: SessionListAck) => {
        if (this.listJoining !== generation) return;
        if (!error && !ack.ok && ack.error.code === "RATE_LIMITED") {
          this.retryAfter(ack.error.retryAfter, () => {
            if (this.listJoining === generation && this.socket.connected) this.sendListSubscribe();
          });
          return;
        }
        this.listJoining = undefined;
        if (error) {
          if (this.socket.connected) this.sendListSubscribe();
          return;
        }
        if (ack.ok) subscriber.onList(ack.sessions);
        else subscriber.onFailed(new AgentRuntimeError(ack.error.code, ack.error.message));
      });
  }

  private routeList(name: string, payload: unknown): void {
    const subscriber = this.listSubscriber;
    if (!subscriber || !isRecord(payload)) return;
    if (name === "sessions:updated" && isRecord(payload.session)) {
      subscriber.onUpdated((payload as unknown as SessionsUpdatedEvent).session);
    } else if (name === "sessions:deleted" && typeof payload.sessionId === "string") {
      subscriber.onDeleted((payload as SessionsDeletedEvent).sessionId);
    }
  }

  private route(name: string, payload: unknown): void {
    if (name.startsWith("sessions:")) {
      this.routeList(name, payload);
      return;
    }
    if (!isRecord(payload) || typeof payload.sessionId !== "string") return;
    if (name === SESSION_EVENT_BATCH) {
      // Each event of a batch as if it had come alone, in order.
      if (!Array.isArray(payload.events)) return;
      for (const event of payload.events)
        if (isRecord(event) && typeof event.type === "string" && event.type !== SESSION_EVENT_BATCH)
          this.route(event.type, event);
      return;
    }
    const subscriber = this.subscribers.get(payload.sessionId);
    if (!subscriber) return;
    if (name === "session:snapshot") {
      if (isRecord(payload.session)) subscriber.onSnapshot(payload.session as unknown as SessionData);
      return;
    }
    if (typeof payload.seq !== "number" || payload.type !== name) return;
    const outcome = subscriber.onEvent(payload as unknown as WireEvent);
    if (outcome === "gap" && !this.joining.has(payload.sessionId)) {
      this.log("gap; resuming", {
        sessionId: payload.sessionId,
        seq: payload.seq,
        cursor: subscriber.cursor(),
      });
      this.sendJoin(payload.sessionId);
    }
  }

  private onConnect(): void {
    this.log("connected", { id: this.socket.id });
    this.refreshedAfterRefusal = false;
    this.setState({ status: "connected", error: undefined });
    this.joining.clear();
    for (const sessionId of this.subscribers.keys()) this.sendJoin(sessionId);
    this.sendListSubscribe();
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    this.log("disconnected", { reason });
    this.joining.clear();
    this.listJoining = undefined;
    if (reason === "io client disconnect") {
      this.setState({ status: "disconnected", error: undefined });
      return;
    }
    if (reason === "io server disconnect") {
      // socket.io does not retry after a server-side disconnect; we do (the manager backs off if it is down).
      this.socket.connect();
    }
    this.setState({ status: "reconnecting", error: this.state.error });
  }

  private onConnectError(error: Error & { data?: unknown }): void {
    const data = isRecord(error.data) ? error.data : {};
    const code = typeof data.code === "string" ? data.code : "NETWORK_ERROR";
    const message = typeof data.message === "string" ? data.message : error.message;
    const failure = new AgentRuntimeError(code, `Socket connection failed: ${message}`, { cause: error });
    this.log("connect_error", { code, message });
    const credentialRefused = code === "UNAUTHORIZED" || code === "TOKEN_EXPIRED";
    if (credentialRefused && this.tokens.refreshable && !this.refreshedAfterRefusal && !this.socket.active) {
      // Refused with a token the server no longer takes: once more with a fresh one.
      this.refreshedAfterRefusal = true;
      this.setState({ status: "reconnecting", error: failure });
      this.tokens.refresh().then(
        () => this.connect(),
        (error: unknown) => this.log("getToken failed", error),
      );
      return;
    }
    this.listSubscriber?.onFailed(failure);
    // An inactive socket was refused by the server and will not retry on its own; over a limit, it is worth another try later.
    const overLimit = !this.socket.active && (code === "RATE_LIMITED" || code === "TOO_MANY_SOCKETS");
    if (overLimit) this.retryAfter(undefined, () => this.connect());
    this.setState({
      status: this.socket.active || overLimit ? "reconnecting" : "disconnected",
      error: failure,
    });
  }

  /** Runs `retry` after `seconds` (the server's `retryAfter`), or after the longest reconnection delay. */
  private retryAfter(seconds: number | undefined, retry: () => void): void {
    this.log("over a server limit; retrying later", { retryAfterSeconds: seconds });
    const timer = setTimeout(
      () => {
        this.retries.delete(timer);
        retry();
      },
      seconds === undefined ? this.retryDelayMs : seconds * 1000,
    );
    this.retries.add(timer);
  }

  private setState(next: ConnectionState): void {
    if (next.status === this.state.status && next.error === this.state.error) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/**
 * Where socket.io is for a server at `baseUrl`: its origin, and the
 * `socket.io` path under the URL's path. (Given the URL as it is,
 * socket.io-client would take its path for a namespace and miss a server
 * mounted under a prefix.)
 */
function socketAddress(baseUrl: string): { origin: string; path: string } {
  // A relative URL (in a browser) is relative to the page.
  const url = new URL(baseUrl, (globalThis as { location?: { href: string } }).location?.href);
  return { origin: url.origin, path: `${url.pathname.replace(/\/+$/, "")}/socket.io` };
}
