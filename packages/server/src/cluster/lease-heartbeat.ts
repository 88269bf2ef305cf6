import type { SessionLease, SessionLeases } from "./session-leases.js";

export interface LeaseHeartbeatOptions {
  /** Where the leases are renewed. */
  leases: Pick<SessionLeases, "renewAll">;
  /** Time between the end of one renewal and the start of the next; well under the lease TTL (a third of it is usual). */
  intervalMs: number;
  /**
   * Called once for each held lease found taken or released by someone else
   * (it is no longer held by the heartbeat): the node must stop working on
   * the session, as its writes are refused from now on.
   */
  onLost: (lease: SessionLease) => void;
  /** Called when a renewal fails (the database is unreachable); the next beat retries. @default ignore */
  onError?: (error: unknown) => void;
}

/**
 * Keeps a node's leases alive: every `intervalMs` it renews all held leases
 * in one batch. Beats never overlap. A lease past its `expiresAt` without a
 * successful beat may already belong to another node; `held()` shows the
 * expiry of each lease as last renewed.
 */
export class LeaseHeartbeat {
  private readonly options: LeaseHeartbeatOptions;
  private readonly leases = new Map<string, SessionLease>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;

  constructor(options: LeaseHeartbeatOptions) {
    this.options = options;
  }

  /** Renews `lease` from the next beat on (replacing an earlier lease of the same session). */
  hold(lease: SessionLease): void {
    this.leases.set(lease.sessionId, lease);
  }

  /** Stops renewing the session's lease (after releasing it, or to let it expire). */
  drop(sessionId: string): void {
    this.leases.delete(sessionId);
  }

  held(): SessionLease[] {
    return [...this.leases.values()];
  }

  /** Starts beating every `intervalMs`; idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops beating and resolves once a beat in flight has finished; held leases then expire after their TTL. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Renews every held lease now; resolves when done (after `onLost` calls). Never rejects: failures go to `onError`. */
  beat(): Promise<void> {
    this.inFlight ??= this.renew().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.beat().then(() => {
        if (this.running) this.schedule();
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const sent = this.held();
    if (sent.length === 0) return;
    try {
      const { renewed, lost } = await this.options.leases.renewAll(sent);
      for (const lease of renewed) {
        if (this.leases.get(lease.sessionId)?.token === lease.token) this.leases.set(lease.sessionId, lease);
      }
      for (const ref of lost) {
        const lease = this.leases.get(ref.sessionId);
        if (lease?.token !== ref.token) continue;
        this.leases.delete(ref.sessionId);
        this.options.onLost(lease);
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
