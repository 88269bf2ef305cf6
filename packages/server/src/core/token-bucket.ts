/**
 * A token bucket: holds up to `burst` tokens and gains `perSecond` of them
 * each second. `take()` spends one when there is one. Time comes from `now`
 * (milliseconds, monotonic), read only when a token is taken.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: { readonly perSecond: number; readonly burst: number },
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = rate.burst;
    this.updatedAt = now();
  }

  /** Spends one token; false (and nothing spent) when the bucket is empty. */
  take(): boolean {
    const at = this.now();
    this.tokens = Math.min(
      this.rate.burst,
      this.tokens + ((at - this.updatedAt) / 1000) * this.rate.perSecond,
    );
    this.updatedAt = at;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
