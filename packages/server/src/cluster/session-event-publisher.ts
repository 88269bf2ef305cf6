import type { Logger } from "pino";
import type { AgentSession } from "../core/agent-session.js";
import { errorMessage } from "../errors.js";
import type { ClusterError } from "./cluster-error.js";
import type { ClusterEventBus } from "./cluster-event-bus.js";

/** Events read from the session's log per round. */
const BATCH = 256;
/** First and longest wait before a publish that failed (Redis unreachable) is tried again. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export interface SessionEventPublisherOptions {
  readonly bus: Pick<ClusterEventBus, "publish" | "lastSeq">;
  readonly session: Pick<AgentSession, "id" | "log" | "subscribe">;
  /** The fencing token of this node's lease on the session. */
  readonly token: number;
  /** The last seq the bus holds of the session when publishing starts. */
  readonly publishedSeq: number;
  readonly logger: Logger;
  /**
   * Publishing cannot go on: the session was fenced off (`LEASE_LOST`), or
   * its log no longer holds the next event to share. The node must stop
   * running the session.
   */
  readonly onFailed: (error: ClusterError | Error) => void;
}

/**
 * Shares one session's events on the cluster's event bus, in seq order and
 * each once. It follows the session's own event log with a cursor rather
 * than queueing events: what is not yet published is read from the log,
 * so its memory is the log's (bounded) window, and a publish that fails
 * because Redis is unreachable is retried with backoff from the cursor.
 */
export class SessionEventPublisher {
  private published: number;
  private pumping: Promise<void> | undefined;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private readonly waiters: Array<{ seq: number; resolve: () => void }> = [];

  constructor(private readonly options: SessionEventPublisherOptions) {
    this.published = options.publishedSeq;
    this.unsubscribe = options.session.subscribe(() => this.kick());
    this.kick();
  }

  /** The last seq the bus holds from this publisher. */
  get publishedSeq(): number {
    return this.published;
  }

  /** Resolves once every event logged so far is published, or after `timeoutMs` (false then). */
  flush(timeoutMs: number): Promise<boolean> {
    const seq = this.options.session.log.lastSeq;
    if (this.published >= seq || this.stopped) return Promise.resolve(this.published >= seq);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
      this.waiters.push({
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
  }

  /** Stops publishing (an event being published still completes). */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private kick(): void {
    if (this.stopped || this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // An event logged while the last publish settled.
      if (!this.stopped && this.published < this.options.session.log.lastSeq) this.kick();
    });
  }

  private async pump(): Promise<void> {
    const { session, bus, token, logger } = this.options;
    let delay = RETRY_MIN_MS;
    while (!this.stopped && this.published < session.log.lastSeq) {
      const events = session.log.eventsAfter(this.published, BATCH);
      if (events === null) {
        this.fail(
          new Error(
            `session ${session.id}: its events after ${this.published} left the event log before they were shared with the cluster`,
          ),
        );
        return;
      }
      for (const event of events) {
        try {
          await bus.publish(token, event);
          delay = RETRY_MIN_MS;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (code === "EVENT_SEQ_CONFLICT") {
            // An earlier publish that timed out may have landed: go on after what the bus holds.
            const last = (await bus.lastSeq(session.id).catch(() => undefined)) ?? 0;
            if (last >= event.seq) {
              this.advance(last);
              break;
            }
          }
          if (code === "LEASE_LOST" || code === "EVENT_SEQ_CONFLICT") {
            this.fail(error as Error);
            return;
          }
          if (code === "EVENT_TOO_LARGE") {
            // Cannot be shared as it is: the clients on other nodes see a gap; the owner's own log keeps it.
            logger.error({ err: errorMessage(error), seq: event.seq }, "an event too large to share was skipped");
            this.fail(error as Error);
            return;
          }
          logger.warn({ err: errorMessage(error), seq: event.seq }, "sharing an event failed; retrying");
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
          delay = Math.min(delay * 2, RETRY_MAX_MS);
          break;
        }
        this.advance(event.seq);
        if (this.stopped) return;
      }
    }
  }

  private advance(seq: number): void {
    this.published = Math.max(this.published, seq);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (waiter.seq <= this.published) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private fail(error: Error): void {
    if (this.stopped) return;
    this.stop();
    this.options.onFailed(error);
  }
}
