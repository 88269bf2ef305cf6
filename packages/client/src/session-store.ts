import type {
  Block,
  BlockPage,
  SendMessageResponse,
  SessionData,
  SessionEvent,
} from "@agent-runtime/protocol";
import type { AgentRuntimeError } from "./agent-runtime-error.js";
import {
  applyExtensionEvent,
  applySessionEvent,
  type ExtensionEvent,
  type WireEvent,
} from "./apply-event.js";
import { applySessionData, mergeSubagentBlocks, prependOlderBlocks } from "./apply-session-data.js";
import { isSessionEventType } from "./session-event-types.js";
import { emptySessionSnapshot, type SessionSnapshot } from "./session-snapshot.js";

/** What `SessionStore.receive` did with an event. */
export type ReceiveOutcome =
  /** Applied; `lastSeq` is now its `seq`. */
  | "applied"
  /** Already reflected (`seq <= lastSeq`), or the store holds no data yet: ignored. */
  | "ignored"
  /** Events are missing before it (`seq > lastSeq + 1`): ignored; the caller should resume from `lastSeq`. */
  | "gap";

export type SessionEventListener = (event: WireEvent) => void;

const RECENT_TURNS_KEPT = 64;

/**
 * The external store of one session: an immutable `SessionSnapshot` that
 * changes only through `receive` (events, strictly in `seq` order),
 * `replace` (full data), and the few local facts the server does not echo
 * (queued messages, on-demand subagent transcripts, load state). No I/O.
 *
 * `getSnapshot()` returns the same object until something changes;
 * listeners run synchronously after each change (so `useSyncExternalStore`
 * can read the store directly).
 */
export class SessionStore {
  readonly sessionId: string;
  private state: SessionSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<SessionEventListener>();
  /** Turn ids recently started, so a `queued` send answered after its `turn:started` is not listed as queued. */
  private readonly startedTurns = new Set<string>();

  constructor(sessionId: string) {
    this.sessionId = sessionId;
    this.state = emptySessionSnapshot(sessionId);
  }

  readonly getSnapshot = (): SessionSnapshot => this.state;

  /** Calls `listener` after every change of the snapshot. Returns the unsubscribe function. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Calls `listener` with every event once it is applied (never for duplicates). */
  subscribeEvents(listener: SessionEventListener): () => void {
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  /**
   * Applies `event` when it is the next in sequence. Events at or below
   * `lastSeq` are duplicates (replays overlapping live delivery) and are
   * ignored, as is everything before the first `replace`.
   */
  receive(event: WireEvent): ReceiveOutcome {
    if (event.sessionId !== this.sessionId || this.state.loadState !== "ready") return "ignored";
    if (event.seq <= this.state.lastSeq) return "ignored";
    if (event.seq > this.state.lastSeq + 1) return "gap";
    if (isSessionEventType(event.type)) {
      const known = event as SessionEvent;
      if (known.type === "session:turn:started") this.rememberStartedTurn(known.turnId);
      this.set(applySessionEvent(this.state, known));
    } else {
      this.set(applyExtensionEvent(this.state, event as ExtensionEvent));
    }
    for (const listener of this.eventListeners) listener(event);
    return "applied";
  }

  /**
   * Replaces the state with full session data (a REST load or a
   * `session:snapshot`); afterwards events after `data.lastSeq` apply.
   */
  replace(data: SessionData): void {
    this.set(applySessionData(this.state, data));
  }

  /** Marks a load as running (only changes `loadState` while there is no data yet). */
  markLoading(): void {
    if (this.state.loadState === "idle" || this.state.loadState === "error") {
      this.set({ ...this.state, loadState: "loading", loadError: undefined });
    }
  }

  /** Records why a load or join failed; keeps data already held (`loadState` stays `ready` then). */
  markFailed(error: AgentRuntimeError): void {
    this.set({
      ...this.state,
      loadState: this.state.loadState === "ready" ? "ready" : "error",
      loadError: error,
    });
  }

  /** Records the answer to a sent message: a `queued` message is listed until its turn starts. */
  trackSentMessage(content: string, response: SendMessageResponse): void {
    if (!response.queued || this.startedTurns.has(response.turnId)) return;
    if (this.state.queuedMessages.some((m) => m.turnId === response.turnId)) return;
    this.set({
      ...this.state,
      queuedMessages: [...this.state.queuedMessages, { turnId: response.turnId, content }],
    });
  }

  /** Adds older main-conversation blocks fetched over REST (see `prependOlderBlocks`). */
  prependOlderBlocks(beforeId: string, page: BlockPage): void {
    this.set(prependOlderBlocks(this.state, beforeId, page));
  }

  /** Adds a subagent transcript fetched over REST (see `mergeSubagentBlocks`). */
  mergeSubagentBlocks(subagentId: string, blocks: readonly Block[]): void {
    this.set(mergeSubagentBlocks(this.state, subagentId, blocks));
  }

  private rememberStartedTurn(turnId: string): void {
    this.startedTurns.add(turnId);
    if (this.startedTurns.size > RECENT_TURNS_KEPT) {
      const oldest = this.startedTurns.values().next().value;
      if (oldest !== undefined) this.startedTurns.delete(oldest);
    }
  }

  private set(next: SessionSnapshot): void {
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }
}
