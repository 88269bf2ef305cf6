import { SESSION_EVENT_BATCH } from "@agent-runtime/protocol";

/** One socket event as the client received it. */
export interface DebugEvent {
  /** 1, 2, 3, … in order of arrival (not reset by `clear`). */
  readonly id: number;
  /** The socket event's name, e.g. `session:block:delta` or `sessions:updated`. */
  readonly name: string;
  /** The session it concerns, when its payload names one. */
  readonly sessionId?: string;
  readonly receivedAt: string;
  readonly payload: unknown;
}

export interface EventLogOptions {
  /** Most events kept; older ones are dropped first. 0 records nothing. @default 500 */
  readonly limit?: number;
  /** Clock for `receivedAt`. @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * A debug log of every socket event the client receives (all sessions, the
 * session list, duplicates and replays included), as an external store.
 * It records from its first `subscribe` on (so a client nobody debugs keeps
 * nothing) and keeps the latest `limit` events.
 */
export class EventLog {
  private readonly limit: number;
  private readonly now: () => Date;
  private readonly entries: DebugEvent[] = [];
  private readonly listeners = new Set<() => void>();
  private snapshot: readonly DebugEvent[] = [];
  private stale = false;
  private recording = false;
  private nextId = 1;

  constructor(options: EventLogOptions = {}) {
    this.limit = Math.max(0, options.limit ?? 500);
    this.now = options.now ?? (() => new Date());
  }

  /** The kept events, oldest first; the same array until the log changes. */
  readonly getSnapshot = (): readonly DebugEvent[] => {
    if (this.stale) {
      this.snapshot = this.entries.slice();
      this.stale = false;
    }
    return this.snapshot;
  };

  /** Calls `listener` after every change; the first call starts the recording. Returns the unsubscribe function. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.recording = true;
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Empties the log (ids keep counting). */
  readonly clear = (): void => {
    if (this.entries.length === 0) return;
    this.entries.length = 0;
    this.changed();
  };

  /**
   * Adds an event (each event of a `session:events` batch, as if it had
   * come alone); ignored before the first `subscribe`.
   */
  record(name: string, payload: unknown): void {
    if (!this.recording || this.limit === 0) return;
    if (name === SESSION_EVENT_BATCH && isBatch(payload)) {
      for (const event of payload.events)
        if (typeof event?.type === "string" && event.type !== SESSION_EVENT_BATCH) this.record(event.type, event);
      return;
    }
    const sessionId =
      typeof payload === "object" && payload !== null && "sessionId" in payload
        ? (payload as { sessionId: unknown }).sessionId
        : undefined;
    this.entries.push({
      id: this.nextId++,
      name,
      ...(typeof sessionId === "string" ? { sessionId } : {}),
      receivedAt: this.now().toISOString(),
      payload,
    });
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    this.changed();
  }

  private changed(): void {
    this.stale = true;
    for (const listener of this.listeners) listener();
  }
}

function isBatch(payload: unknown): payload is { events: Array<{ type?: unknown } | null> } {
  return typeof payload === "object" && payload !== null && Array.isArray((payload as { events?: unknown }).events);
}
