import type { SessionEvent, SessionEventInput } from "@agent-runtime/protocol";

export type SessionEventListener = (event: SessionEvent) => void;

export interface EventLogOptions {
  readonly sessionId: string;
  /** Last seq issued before this log existed (restored sessions continue from it). @default 0 */
  readonly lastSeq?: number;
  /** How many recent events are kept for replay. @default 10_000 */
  readonly windowSize?: number;
  readonly now?: () => Date;
}

/**
 * A session's event sequence. Stamps events with `seq` (contiguous from
 * `lastSeq + 1`) and a timestamp, delivers them synchronously to listeners in
 * order, and keeps a bounded window of recent events so a client can resume
 * from a cursor. Listeners that throw are isolated from each other.
 */
export class EventLog {
  readonly sessionId: string;
  /** The seq this log continued after (its first event is `startSeq + 1`). */
  readonly startSeq: number;
  private seq: number;
  private readonly window: SessionEvent[] = [];
  private readonly windowSize: number;
  private readonly listeners = new Set<SessionEventListener>();
  private readonly now: () => Date;

  constructor(options: EventLogOptions) {
    this.sessionId = options.sessionId;
    this.seq = options.lastSeq ?? 0;
    this.startSeq = this.seq;
    this.windowSize = options.windowSize ?? 10_000;
    this.now = options.now ?? (() => new Date());
  }

  get lastSeq(): number {
    return this.seq;
  }

  emit(input: SessionEventInput): SessionEvent {
    this.seq += 1;
    const event = {
      ...input,
      sessionId: this.sessionId,
      seq: this.seq,
      timestamp: this.now().toISOString(),
    } as SessionEvent;
    this.window.push(event);
    if (this.window.length > this.windowSize) this.window.splice(0, this.window.length - this.windowSize);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A failing listener must not break the session or other listeners.
      }
    }
    return event;
  }

  /**
   * The first `limit` events with `seq > afterSeq` (all of them by default),
   * or `null` when the window no longer holds the one right after `afterSeq`
   * (the caller then sends a snapshot instead). Paging with the last returned
   * `seq` as the next cursor yields every event once, in order, as long as
   * the window keeps up.
   */
  eventsAfter(afterSeq: number, limit = Number.POSITIVE_INFINITY): SessionEvent[] | null {
    if (afterSeq >= this.seq) return [];
    const first = this.window[0];
    if (!first || first.seq > afterSeq + 1) return null;
    const start = afterSeq + 1 - first.seq;
    return this.window.slice(start, start + limit);
  }

  subscribe(listener: SessionEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
