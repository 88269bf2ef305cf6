import { TokenBucket } from "../../core/token-bucket.js";
import type { SocketRateLimit } from "./socket-limits.js";

/** What `CallerSocket.admit` decided about one incoming event. */
export type Admission =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Seconds until the caller's next event is admitted (an upper bound). */
      readonly retryAfter: number;
      /** Refusals of this socket since its last admitted event, this one included. */
      readonly refusedInARow: number;
      /** The socket was refused too often in a row and should be disconnected. */
      readonly disconnect: boolean;
    };

/** One socket's share of its caller's limits; `release` when the socket goes. */
export interface CallerSocket {
  /** Decides whether the socket's next incoming event is handled. */
  admit(): Admission;
  /** Gives the socket's place back. Idempotent. */
  release(): void;
}

interface Caller {
  readonly sockets: Set<symbol>;
  readonly bucket: TokenBucket | undefined;
  forgetTimer?: NodeJS.Timeout;
}

/**
 * The socket transport's per-caller limits (a caller is a `callerKey`): how
 * many sockets it may hold at once, and how many events it may send, over
 * all of them, through one token bucket. A caller's bucket outlives its
 * sockets until it would have refilled, so reconnecting does not reset it;
 * then the caller is forgotten, so memory stays bounded by the callers seen
 * within that time.
 */
export class CallerLimits {
  private readonly callers = new Map<string, Caller>();

  constructor(
    private readonly limits: {
      readonly maxSocketsPerCaller: number;
      readonly rateLimit: SocketRateLimit | false;
    },
    private readonly now?: () => number,
  ) {}

  /** A place for one more socket of `caller`, or `undefined` when it holds the most it may. */
  connect(caller: string): CallerSocket | undefined {
    const { rateLimit } = this.limits;
    let state = this.callers.get(caller);
    if (!state) {
      const bucket = rateLimit
        ? new TokenBucket({ perSecond: rateLimit.eventsPerSecond, burst: rateLimit.burst }, this.now)
        : undefined;
      state = { sockets: new Set(), bucket };
      this.callers.set(caller, state);
    }
    if (state.sockets.size >= this.limits.maxSocketsPerCaller) return undefined;
    const entry = state;
    clearTimeout(entry.forgetTimer);
    const place = Symbol(caller);
    entry.sockets.add(place);
    let refusedInARow = 0;
    return {
      admit: () => {
        if (!rateLimit || !entry.bucket || entry.bucket.take()) {
          refusedInARow = 0;
          return { ok: true };
        }
        refusedInARow += 1;
        return {
          ok: false,
          retryAfter: Math.ceil(1 / rateLimit.eventsPerSecond),
          refusedInARow,
          disconnect: refusedInARow >= rateLimit.maxRefusedInARow,
        };
      },
      release: () => {
        if (!entry.sockets.delete(place) || entry.sockets.size > 0) return;
        const refillMs = rateLimit ? (rateLimit.burst / rateLimit.eventsPerSecond) * 1000 : 0;
        entry.forgetTimer = setTimeout(() => {
          if (entry.sockets.size === 0 && this.callers.get(caller) === entry) this.callers.delete(caller);
        }, refillMs).unref();
      },
    };
  }

  /** Callers currently remembered (for tests of the bound). */
  get size(): number {
    return this.callers.size;
  }
}
