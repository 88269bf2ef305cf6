import type { SessionSummary } from "@agent-runtime/protocol";
import { AgentRuntimeError } from "./agent-runtime-error.js";
import type { RestClient } from "./rest-client.js";
import type { SocketConnection } from "./socket-connection.js";

export interface SessionListSnapshot {
  readonly sessions: readonly SessionSummary[];
  /** True while a refresh runs, or a follow waits for its first list. */
  readonly isLoading: boolean;
  /** Whether the list was ever fetched. */
  readonly loaded: boolean;
  readonly error: AgentRuntimeError | undefined;
}

/** How many deleted ids are remembered so a stale list cannot bring them back. */
const REMEMBERED_DELETIONS = 500;

/**
 * The session list as an external store. `follow()` keeps it live over the
 * socket (`sessions:subscribe`: the newest sessions, the server's first
 * page, on every (re)connect, then creations, summary changes — status,
 * activity, usage, title — and deletions, from any client); `refresh()`
 * refetches that page over REST. Whatever the source, a summary never
 * replaces a newer one of the same session (higher `lastSeq`), and a session
 * seen deleted never comes back.
 */
export class SessionListStore {
  private state: SessionListSnapshot = { sessions: [], isLoading: false, loaded: false, error: undefined };
  private readonly listeners = new Set<() => void>();
  private readonly deletedIds = new Set<string>();
  private pending: Promise<void> | undefined;
  private followers = 0;

  constructor(
    private readonly rest: RestClient,
    private readonly connection: SocketConnection,
  ) {}

  readonly getSnapshot = (): SessionListSnapshot => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /**
   * Keeps the list live until the returned release is called (reference
   * counted: the socket subscription ends with the last release). Failures
   * land in `error` and clear with the next list.
   */
  readonly follow = (): (() => void) => {
    this.followers += 1;
    if (this.followers === 1) {
      if (!this.state.loaded) this.set({ ...this.state, isLoading: true });
      this.connection.followSessionList({
        onList: (sessions) => this.replaceAll(sessions),
        onUpdated: (session) => this.put(session),
        onDeleted: (sessionId) => this.remove(sessionId),
        onFailed: (error) => this.set({ ...this.state, isLoading: false, error }),
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.followers -= 1;
      if (this.followers === 0) this.connection.unfollowSessionList();
    };
  };

  /** Refetches the list over REST. Concurrent calls share one request. Never rejects: failures land in `error`. */
  readonly refresh = (): Promise<void> => {
    this.pending ??= (async () => {
      this.set({ ...this.state, isLoading: true });
      try {
        this.replaceAll((await this.rest.listSessions()).sessions);
      } catch (error) {
        const failure = AgentRuntimeError.is(error)
          ? error
          : new AgentRuntimeError("NETWORK_ERROR", String(error), { cause: error });
        this.set({ ...this.state, isLoading: false, error: failure });
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  };

  /** Adds or replaces one session, unless the store holds a newer summary of it or saw it deleted. */
  put(session: SessionSummary): void {
    if (this.deletedIds.has(session.sessionId)) return;
    const index = this.state.sessions.findIndex((s) => s.sessionId === session.sessionId);
    if (index === -1) {
      this.set({ ...this.state, sessions: [...this.state.sessions, session] });
      return;
    }
    if ((this.state.sessions[index]?.lastSeq ?? 0) > session.lastSeq) return;
    const sessions = [...this.state.sessions];
    sessions[index] = session;
    this.set({ ...this.state, sessions });
  }

  /** Drops one session for good (it was destroyed). */
  remove(sessionId: string): void {
    this.deletedIds.add(sessionId);
    if (this.deletedIds.size > REMEMBERED_DELETIONS) {
      const oldest = this.deletedIds.values().next().value;
      if (oldest !== undefined) this.deletedIds.delete(oldest);
    }
    const sessions = this.state.sessions.filter((s) => s.sessionId !== sessionId);
    if (sessions.length !== this.state.sessions.length) this.set({ ...this.state, sessions });
  }

  /** Takes a full list: sessions missing from it are gone; held summaries newer than its own are kept. */
  private replaceAll(incoming: readonly SessionSummary[]): void {
    const held = new Map(this.state.sessions.map((s) => [s.sessionId, s]));
    const sessions = incoming
      .filter((s) => !this.deletedIds.has(s.sessionId))
      .map((s) => {
        const known = held.get(s.sessionId);
        return known && known.lastSeq > s.lastSeq ? known : s;
      });
    this.set({ sessions, isLoading: false, loaded: true, error: undefined });
  }

  private set(next: SessionListSnapshot): void {
    this.state = next;
    for (const listener of this.listeners) listener();
  }
}
