import type { RunnerLimits } from "./runner-limits.js";
import { TokenBucket } from "./token-bucket.js";

/** How often the lines dropped since the last report are reported, at most. */
export const DROP_REPORT_INTERVAL_MS = 5_000;

export interface DroppedLines {
  /** Valid `log` lines not passed on. */
  readonly logLines: number;
  /** Invalid lines not reported one by one. */
  readonly invalidLines: number;
}

export interface RunnerRateLimiterHandlers {
  /** What was dropped since the last call: at most once per `DROP_REPORT_INTERVAL_MS`, and at `close()`. */
  onDropped(dropped: DroppedLines): void;
  /** A flood passed its budget. Called once; everything is dropped from then on. */
  onViolation(message: string): void;
}

/**
 * The rate limits and flood budgets of one runner connection (see
 * `RunnerLimits`): decides line by line whether a `log` line is passed on
 * and whether an invalid line is reported, counts what it drops, and calls
 * a flood past its budget a violation.
 */
export class RunnerRateLimiter {
  private readonly logBucket: TokenBucket;
  private readonly invalidBucket: TokenBucket;
  private droppedLogTotal = 0;
  private invalidTotal = 0;
  private unreported = { logLines: 0, invalidLines: 0 };
  private reportTimer: NodeJS.Timeout | undefined;
  private violated = false;

  constructor(
    private readonly limits: RunnerLimits,
    private readonly handlers: RunnerRateLimiterHandlers,
    now?: () => number,
  ) {
    this.logBucket = new TokenBucket(
      { perSecond: limits.logLinesPerSecond, burst: limits.logLineBurst },
      now,
    );
    this.invalidBucket = new TokenBucket(
      { perSecond: limits.invalidLinesLoggedPerSecond, burst: Math.ceil(limits.invalidLinesLoggedPerSecond) },
      now,
    );
  }

  /** A valid `log` line arrived: true when it may be passed on. */
  admitLog(): boolean {
    if (this.violated) return false;
    if (this.logBucket.take()) return true;
    this.droppedLogTotal += 1;
    this.countDropped("logLines");
    if (this.droppedLogTotal > this.limits.maxDroppedLogLines) {
      this.violate(
        `The sandbox flooded the runner channel with log lines (over ${this.limits.maxDroppedLogLines} dropped); the agent was stopped`,
      );
    }
    return false;
  }

  /** An invalid line arrived: true when it may be reported. Every one counts towards the budget. */
  admitInvalid(): boolean {
    if (this.violated) return false;
    this.invalidTotal += 1;
    if (this.invalidTotal > this.limits.maxInvalidLines) {
      this.violate(
        `The sandbox wrote over ${this.limits.maxInvalidLines} invalid lines to the runner channel; the agent was stopped`,
      );
      return false;
    }
    if (this.invalidBucket.take()) return true;
    this.countDropped("invalidLines");
    return false;
  }

  /** Reports what was dropped and not reported yet, and stops the report timer. Idempotent. */
  close(): void {
    clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    this.report();
  }

  private countDropped(kind: keyof DroppedLines): void {
    this.unreported[kind] += 1;
    this.reportTimer ??= setTimeout(() => {
      this.reportTimer = undefined;
      this.report();
    }, DROP_REPORT_INTERVAL_MS).unref();
  }

  private report(): void {
    const dropped = this.unreported;
    if (dropped.logLines === 0 && dropped.invalidLines === 0) return;
    this.unreported = { logLines: 0, invalidLines: 0 };
    this.handlers.onDropped(dropped);
  }

  private violate(message: string): void {
    this.violated = true;
    this.handlers.onViolation(message);
  }
}
