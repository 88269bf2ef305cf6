import { Kysely, PostgresDialect } from "kysely";
import type { Logger } from "pino";
import type { SessionManager } from "../core/session-manager.js";
import { errorMessage } from "../errors.js";
import type { SqlDatabase } from "../persistence/sql/sql-database.js";
import { ClusterEventBus } from "./cluster-event-bus.js";
import { ClusterOwnership } from "./cluster-ownership.js";
import { type Announcement, NodeRegistry, type RegisteredNode } from "./node-registry.js";
import { createSessionLeases, type SessionLeases } from "./session-leases.js";

export interface ClusterOptions {
  /** The cluster's PostgreSQL database (the one sessions are stored in), `postgres://…`. */
  readonly databaseUrl: string;
  /** The cluster's Redis, `redis://…` or `rediss://…`. */
  readonly redisUrl: string;
  /** This node's id, unique in the cluster and stable across its restarts. */
  readonly nodeId: string;
  /** Where the other nodes reach this node's HTTP API. */
  readonly advertiseUrl: string;
  /** Prefix of every Redis key of the cluster. @default "agent-runtime:" */
  readonly keyPrefix?: string;
  /** How long a session's lease (and a node's announcement) lasts without renewal: the longest a dead node's sessions wait. @default 15_000 */
  readonly leaseTtlMs?: number;
  /** How long a draining node lets running turns finish before it interrupts them. @default 30_000 */
  readonly drainTimeoutMs?: number;
  /** Largest event the shared stream takes (the runner's largest line). @default 16 MiB */
  readonly maxEventBytes?: number;
  readonly logger: Logger;
}

/** Where a request for a session is served. */
export type SessionRoute =
  | { readonly kind: "local" }
  | { readonly kind: "forward"; readonly node: RegisteredNode }
  | { readonly kind: "unavailable"; readonly nodeId: string; readonly retryAfterMs: number };

/** Sessions taken over per scan. */
const TAKEOVER_BATCH = 50;

/**
 * One node of a cluster: nodes sharing a PostgreSQL database and a Redis
 * run each session on one node at a time (fenced leases, `ClusterOwnership`),
 * share every session's events (`ClusterEventBus`), know each other
 * (`NodeRegistry`), forward requests for a session to the node running it
 * (`route`), and take over the sessions of a node that stopped renewing
 * its leases (a scan every third of the TTL).
 */
export class Cluster {
  private announcement: Announcement | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private sessions: SessionManager | undefined;
  private scanning = false;
  private draining = false;

  private constructor(
    private readonly options: ClusterOptions,
    private readonly db: Kysely<SqlDatabase>,
    readonly leases: SessionLeases,
    readonly bus: ClusterEventBus,
    readonly registry: NodeRegistry,
    readonly ownership: ClusterOwnership,
  ) {}

  /** Connects to the cluster's Redis and database (nothing is announced before `start`). */
  static async connect(options: ClusterOptions): Promise<Cluster> {
    const { logger } = options;
    const ttlMs = options.leaseTtlMs ?? 15_000;
    const keyPrefix = options.keyPrefix ?? "agent-runtime:";
    const onError = (what: string) => (error: unknown) =>
      logger.warn({ err: errorMessage(error) }, `cluster: ${what}`);
    const db = new Kysely<SqlDatabase>({
      dialect: new PostgresDialect({
        pool: async () => {
          const { default: pg } = await import("pg");
          const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
          pool.on("error", () => undefined);
          return pool;
        },
      }),
    });
    const leases = createSessionLeases({ db, ttlMs });
    const bus = await ClusterEventBus.connect({
      redisUrl: options.redisUrl,
      keyPrefix,
      maxEventBytes: options.maxEventBytes ?? 16 * 1024 * 1024,
      onError: onError("event bus"),
    });
    try {
      const registry = await NodeRegistry.connect({
        redisUrl: options.redisUrl,
        keyPrefix,
        ttlMs,
        onError: onError("node registry"),
      });
      const ownership = new ClusterOwnership({ nodeId: options.nodeId, leases, bus, logger });
      return new Cluster(options, db, leases, bus, registry, ownership);
    } catch (error) {
      await bus.close();
      await db.destroy();
      throw error;
    }
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get advertiseUrl(): string {
    return this.options.advertiseUrl;
  }

  /** True from `drain()` on: this node takes no session over and no longer announces itself. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** How long `close()` of the server lets running turns finish after `drain()`. */
  get drainTimeoutMs(): number {
    return this.options.drainTimeoutMs ?? 30_000;
  }

  /**
   * Joins the cluster (once the runtime started and the HTTP API listens):
   * renews leases, announces this node, and takes over expired sessions.
   */
  start(sessions: SessionManager): void {
    this.sessions = sessions;
    this.ownership.onEvicted((sessionId) => void sessions.evict(sessionId));
    this.ownership.start();
    this.announcement = this.registry.keepAnnouncing({
      nodeId: this.options.nodeId,
      advertiseUrl: this.options.advertiseUrl,
    });
    const every = Math.max(50, Math.floor(this.leases.ttlMs / 3));
    this.scanTimer = setInterval(() => void this.takeOver(), every);
    this.scanTimer.unref();
  }

  /**
   * Where a request for `sessionId` is served: here when this node runs it,
   * or no live node does (this node then claims it as it loads it); at the
   * node holding its lease when that node is in the registry; otherwise
   * nowhere yet (its holder stopped announcing itself and its lease has not
   * expired: retry after `retryAfterMs`).
   */
  async route(sessionId: string): Promise<SessionRoute> {
    if (this.sessions?.isLive(sessionId)) return { kind: "local" };
    const lease = await this.leases.current(sessionId);
    if (!lease || lease.nodeId === this.options.nodeId) return { kind: "local" };
    const retryAfterMs = lease.expiresAt.getTime() - Date.now();
    if (retryAfterMs <= 0) return { kind: "local" };
    const node = await this.registry.lookup(lease.nodeId);
    if (node) return { kind: "forward", node };
    return { kind: "unavailable", nodeId: lease.nodeId, retryAfterMs };
  }

  /**
   * Resolves when this node is a member of its cluster: started, not
   * draining, listed in the registry, and the lease table answers. Throws
   * saying which is not so (`GET /ready` reports it).
   */
  async checkMembership(): Promise<void> {
    if (!this.sessions) throw new Error("the node has not joined its cluster yet");
    if (this.draining) throw new Error("the node is draining");
    if (!(await this.registry.lookup(this.options.nodeId)))
      throw new Error(`node ${this.options.nodeId} is not in the cluster's registry`);
    await this.leases.expired(0);
  }

  /**
   * The first step of a graceful stop: this node leaves the registry (the
   * others stop forwarding to it; its sessions' next requests wait for it
   * to release them) and takes nothing over any more.
   */
  async drain(): Promise<void> {
    this.draining = true;
    clearInterval(this.scanTimer);
    await this.announcement?.stop();
    this.announcement = undefined;
    await this.registry.withdraw(this.options.nodeId).catch(() => false);
  }

  /** Leaves the cluster: call after the runtime shut down (its sessions released their leases). */
  async close(): Promise<void> {
    if (!this.draining) await this.drain();
    await this.ownership.stop();
    await Promise.allSettled([this.bus.close(), this.registry.close(), this.db.destroy()]);
  }

  /** Loads the sessions whose leases expired (their node died): loading claims them, as any node may. */
  private async takeOver(): Promise<void> {
    const sessions = this.sessions;
    if (!sessions || this.scanning || this.draining) return;
    this.scanning = true;
    try {
      const expired = await this.leases.expired(TAKEOVER_BATCH);
      for (const lease of expired) {
        if (this.draining) break;
        if (sessions.isLive(lease.sessionId)) continue;
        try {
          await sessions.get(lease.sessionId);
          this.options.logger.info(
            { sessionId: lease.sessionId, from: lease.nodeId },
            "took over a session whose node stopped renewing its lease",
          );
        } catch (error) {
          // Another node claimed it first, or the session was deleted meanwhile.
          this.options.logger.debug(
            { sessionId: lease.sessionId, err: errorMessage(error) },
            "did not take a session over",
          );
        }
      }
    } catch (error) {
      this.options.logger.warn({ err: errorMessage(error) }, "cluster: the takeover scan failed");
    } finally {
      this.scanning = false;
    }
  }
}
