import type { SessionSummary } from "@agent-runtime/protocol";
import { AgentRuntimeError } from "./agent-runtime-error.js";
import type { RestClient } from "./rest-client.js";

export interface SessionListSnapshot {
  readonly sessions: readonly SessionSummary[];
  /** True while a refresh runs. */
  readonly isLoading: boolean;
  /** Whether the list was ever fetched. */
  readonly loaded: boolean;
  readonly error: AgentRuntimeError | undefined;
}

/**
 * The session list (`GET /sessions`) as an external store. It changes on
 * `refresh()` and when this client creates or destroys a session; the server
 * pushes no list events, so changes made elsewhere show after a refresh.
 */
export class SessionListStore {
  private state: SessionListSnapshot = { sessions: [], isLoading: false, loaded: false, error: undefined };
  private readonly listeners = new Set<() => void>();
  private pending: Promise<void> | undefined;

  constructor(private readonly rest: RestClient) {}

  readonly getSnapshot = (): SessionListSnapshot => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Refetches the list. Concurrent calls share one request. Never rejects: failures land in `error`. */
  readonly refresh = (): Promise<void> => {
    this.pending ??= (async () => {
      this.set({ ...this.state, isLoading: true });
      try {
        const sessions = await this.rest.listSessions();
        this.set({ sessions, isLoading: false, loaded: true, error: undefined });
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

  /** Adds or replaces one session (after this client created it). */
  put(session: SessionSummary): void {
    const others = this.state.sessions.filter((s) => s.sessionId !== session.sessionId);
    this.set({ ...this.state, sessions: [...others, session] });
  }

  /** Drops one session (after this client destroyed it). */
  remove(sessionId: string): void {
    const sessions = this.state.sessions.filter((s) => s.sessionId !== sessionId);
    if (sessions.length !== this.state.sessions.length) this.set({ ...this.state, sessions });
  }

  private set(next: SessionListSnapshot): void {
    this.state = next;
    for (const listener of this.listeners) listener();
  }
}
