import type { Logger } from "pino";
import type { AgentSession } from "../core/agent-session.js";
import type { SessionOwnership } from "../core/session-ownership.js";
import { errorMessage } from "../errors.js";
import type { SessionWriteFence } from "../persistence/sql/sql-persistence-adapter.js";
import { ClusterError } from "./cluster-error.js";
import type { ClusterEventBus } from "./cluster-event-bus.js";
import { LeaseHeartbeat } from "./lease-heartbeat.js";
import { SessionEventPublisher } from "./session-event-publisher.js";
import type { SessionLease, SessionLeases } from "./session-leases.js";

export interface ClusterOwnershipOptions {
  readonly nodeId: string;
  readonly leases: SessionLeases;
  readonly bus: ClusterEventBus;
  readonly logger: Logger;
  /** How long `release` waits for the session's last events to be shared. @default 5_000 */
  readonly flushTimeoutMs?: number;
}

/**
 * Fenced session ownership for one node (`SessionOwnership` in cluster
 * mode). `acquire` claims the session's lease (a new fencing token) and
 * fences the event bus with it; from then on the lease heartbeat renews it,
 * every write of the session's data runs under it (`fence`, given to the
 * PostgreSQL adapter), and its events are shared on the bus under it. When
 * the heartbeat finds the lease taken, or the bus refuses the token, the
 * session is evicted here (`onEvicted`): another node runs it now.
 */
export class ClusterOwnership implements SessionOwnership {
  private readonly held = new Map<string, SessionLease>();
  /** Per held session, the last seq the bus held when it was acquired: publishing starts after it. */
  private readonly sharedSeq = new Map<string, number>();
  private readonly publishers = new Map<string, SessionEventPublisher>();
  private readonly heartbeat: LeaseHeartbeat;
  private evicted: (sessionId: string) => void = () => undefined;

  constructor(private readonly options: ClusterOwnershipOptions) {
    this.heartbeat = new LeaseHeartbeat({
      leases: options.leases,
      intervalMs: Math.max(50, Math.floor(options.leases.ttlMs / 3)),
      onLost: (lease) => this.lose(lease.sessionId, `its lease was claimed by another node`),
      onError: (error) =>
        options.logger.warn({ err: errorMessage(error) }, "renewing session leases failed; retrying"),
    });
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Sessions this node holds (their leases). */
  heldSessions(): string[] {
    return [...this.held.keys()];
  }

  /** Where a session this node lost goes (the session manager's `evict`). */
  onEvicted(listener: (sessionId: string) => void): void {
    this.evicted = listener;
  }

  start(): void {
    this.heartbeat.start();
  }

  async stop(): Promise<void> {
    await this.heartbeat.stop();
  }

  async acquire(sessionId: string): Promise<{ lastSeq: number }> {
    const { leases, bus, nodeId } = this.options;
    const claim = await leases.claim(sessionId, nodeId);
    if (!claim.acquired) {
      throw new ClusterError(
        "NODE_UNAVAILABLE",
        `Session ${sessionId} runs on node ${claim.holder.nodeId}; retry`,
        { details: { nodeId: claim.holder.nodeId } },
      );
    }
    const { lease } = claim;
    try {
      await bus.fence(sessionId, lease.token);
      const lastSeq = (await bus.lastSeq(sessionId)) ?? 0;
      this.held.set(sessionId, lease);
      this.sharedSeq.set(sessionId, lastSeq);
      this.heartbeat.hold(lease);
      return { lastSeq };
    } catch (error) {
      await leases.release(lease).catch(() => undefined);
      throw error;
    }
  }

  attached(session: AgentSession): void {
    const lease = this.held.get(session.id);
    if (!lease) return;
    this.publishers.get(session.id)?.stop();
    this.publishers.set(
      session.id,
      new SessionEventPublisher({
        bus: this.options.bus,
        session,
        token: lease.token,
        // The log starts after the stored record or the bus, whichever is further.
        publishedSeq: Math.max(this.sharedSeq.get(session.id) ?? 0, session.log.startSeq),
        logger: this.options.logger.child({ sessionId: session.id }),
        onFailed: (error) => this.lose(session.id, errorMessage(error)),
      }),
    );
  }

  async release(sessionId: string, options?: { deleted?: boolean }): Promise<void> {
    const publisher = this.publishers.get(sessionId);
    this.publishers.delete(sessionId);
    if (publisher) {
      await publisher.flush(this.options.flushTimeoutMs ?? 5_000);
      publisher.stop();
    }
    const lease = this.held.get(sessionId);
    this.held.delete(sessionId);
    this.sharedSeq.delete(sessionId);
    this.heartbeat.drop(sessionId);
    if (options?.deleted) await this.options.bus.forget(sessionId).catch(() => undefined);
    if (lease) await this.options.leases.release(lease);
  }

  /**
   * The fence of the session's writes (see `SessionWriteFence`): refuses a
   * write for a session this node does not hold, or holds under a token that
   * is no longer current (`LEASE_LOST`), and holds the lease row until the
   * write commits so no claim lands in between.
   */
  readonly fence: SessionWriteFence = async (trx, sessionId) => {
    const lease = this.held.get(sessionId);
    if (!lease) {
      throw new ClusterError(
        "LEASE_LOST",
        `Node ${this.options.nodeId} does not hold session ${sessionId}; its write was refused`,
      );
    }
    await this.options.leases.assertFencedIn(trx, sessionId, lease.token);
  };

  private lose(sessionId: string, why: string): void {
    if (!this.held.has(sessionId)) return;
    this.options.logger.warn({ sessionId }, `this node lost the session: ${why}`);
    this.held.delete(sessionId);
    this.sharedSeq.delete(sessionId);
    this.heartbeat.drop(sessionId);
    this.publishers.get(sessionId)?.stop();
    this.publishers.delete(sessionId);
    this.evicted(sessionId);
  }
}
