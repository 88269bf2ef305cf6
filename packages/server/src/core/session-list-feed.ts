import type { SessionEvent, SessionSummary } from "@agent-runtime/protocol";
import type { SessionEventListener } from "./event-log.js";

/** One change of the session list, as transports send it. */
export type SessionListChange =
  | { readonly type: "updated"; readonly session: SessionSummary }
  | { readonly type: "deleted"; readonly sessionId: string; readonly tenantId: string | undefined };

export type SessionListListener = (change: SessionListChange) => void;

/** Session events that change a session's summary (status, activity, usage, title). */
const summaryEvents = new Set<SessionEvent["type"]>([
  "session:status",
  "session:turn:started",
  "session:turn:completed",
  "session:metadata:update",
]);

/** Where the feed reads sessions from (the `SessionManager`). */
export interface SessionSource {
  subscribeAll(listener: SessionEventListener): () => void;
  /** The session's summary as it stands, without loading it; null when it is gone. */
  currentSummary(sessionId: string): Promise<SessionSummary | null>;
}

/** How many destroyed ids are remembered to drop late updates about them. */
const REMEMBERED_DELETIONS = 1000;

/**
 * The live session list of one runtime (`runtime.sessions.listFeed`), which
 * transports publish. The `SessionManager` reports every creation and
 * deletion (`created`, `deletion`), whoever asked for it; summary changes come from the runtime's session events, coalesced per
 * session within one macrotask (a turn start with its status change and
 * title yields one update). Listeners run synchronously, in order of the
 * changes; an update that would arrive after its session's deletion is
 * dropped. Listens to the runtime only while it has listeners.
 */
export class SessionListFeed {
  private readonly listeners = new Set<SessionListListener>();
  private readonly pending = new Set<string>();
  private readonly deletedIds = new Set<string>();
  private stopRuntime: (() => void) | undefined;

  constructor(private readonly sessions: SessionSource) {}

  /** Adds a listener; returns its removal (idempotent). */
  subscribe(listener: SessionListListener): () => void {
    this.listeners.add(listener);
    this.stopRuntime ??= this.sessions.subscribeAll((event) => this.onSessionEvent(event));
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.stopRuntime?.();
        this.stopRuntime = undefined;
      }
    };
  }

  /** Reports a new session (call after it is stored). */
  created(session: SessionSummary): void {
    this.publish({ type: "updated", session });
  }

  /**
   * Reports the destruction `destroying` performs: no summary of the session
   * is pushed from now on (so no late event reloads it from storage), and
   * `deleted` is published, with the tenant `destroying` resolves with (the
   * session's, which transports publish it to), once it resolves. When it rejects, the
   * session's updates resume and the error is rethrown.
   */
  async deletion(sessionId: string, destroying: Promise<{ tenantId: string | undefined }>): Promise<void> {
    this.deletedIds.add(sessionId);
    this.pending.delete(sessionId);
    let tenantId: string | undefined;
    try {
      ({ tenantId } = await destroying);
    } catch (error) {
      this.deletedIds.delete(sessionId);
      throw error;
    }
    if (this.deletedIds.size > REMEMBERED_DELETIONS) {
      const oldest = this.deletedIds.values().next().value;
      if (oldest !== undefined) this.deletedIds.delete(oldest);
    }
    this.publish({ type: "deleted", sessionId, tenantId });
  }

  private onSessionEvent(event: SessionEvent): void {
    if (!summaryEvents.has(event.type) || this.pending.has(event.sessionId)) return;
    this.pending.add(event.sessionId);
    setImmediate(() => void this.pushSummary(event.sessionId));
  }

  private async pushSummary(sessionId: string): Promise<void> {
    if (!this.pending.delete(sessionId) || this.deletedIds.has(sessionId)) return;
    const session = await this.sessions.currentSummary(sessionId).catch(() => null);
    // Gone meanwhile: its deletion is reported by `deletion`.
    if (session && !this.deletedIds.has(sessionId)) this.publish({ type: "updated", session });
  }

  private publish(change: SessionListChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
