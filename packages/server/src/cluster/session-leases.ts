import { type Expression, type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { z } from "zod";
import type { SqlDatabase } from "../persistence/sql/sql-database.js";
import { validateInput } from "../profiles/validate-input.js";
import { ClusterError } from "./cluster-error.js";
import { nodeIdSchema, sessionIdSchema } from "./cluster-ids.js";

/**
 * One row per owned session (migration `0006_session_leases`, PostgreSQL
 * only). `fencing_token` is drawn from one sequence at every claim, so a
 * token is never issued twice, whatever happened to the row before.
 */
type SessionLeasesTable = {
  session_id: string;
  node_id: string;
  /** Drawn from the column's sequence on insert; PostgreSQL returns its `bigint` as a string. */
  fencing_token: Generated<string>;
  expires_at: Date;
};

type LeaseTables = {
  session_leases: SessionLeasesTable;
};

/** A node's hold on a session, as the database recorded it. */
export interface SessionLease {
  readonly sessionId: string;
  readonly nodeId: string;
  /** Grows at every claim of any session; a write for the session is accepted only under the current one. */
  readonly token: number;
  /** On the database's clock; the lease may be claimed by another node from then on. */
  readonly expiresAt: Date;
}

/** What identifies a held lease: its session and the token it was claimed under. */
export type LeaseRef = Pick<SessionLease, "sessionId" | "token">;

export type ClaimResult =
  | { readonly acquired: true; readonly lease: SessionLease }
  | { readonly acquired: false; readonly holder: SessionLease };

const optionsSchema = z.object({
  db: z.custom<Kysely<SqlDatabase>>((value) => typeof value === "object" && value !== null),
  ttlMs: z.number().int().min(100).max(3_600_000).default(15_000),
});

export interface SessionLeasesOptions {
  /**
   * The cluster's PostgreSQL database, migrated (the persistence adapter's
   * Kysely instance, so a fenced write shares its transaction with the data).
   */
  db: Kysely<SqlDatabase>;
  /**
   * How long a claim or renewal holds the session without a heartbeat; the
   * longest a dead node's sessions wait for a new owner.
   * @default 15_000
   */
  ttlMs?: number;
}

/**
 * Fenced session ownership on PostgreSQL. Each method is one statement (or
 * one transaction) against the database; time is the database's clock, so
 * nodes need not agree on theirs. Nothing is cached: every answer is the
 * database's at the time of the call.
 */
export interface SessionLeases {
  readonly ttlMs: number;
  /**
   * Compare-and-swap: takes the session when its lease is missing, expired,
   * or already `nodeId`'s, and then always under a new token (a node that
   * re-claims fences its own earlier writes). Exactly one of several
   * concurrent claimants wins; the others get the winner as `holder`.
   * Waits for fenced transactions in flight on the session to finish.
   */
  claim(sessionId: string, nodeId: string): Promise<ClaimResult>;
  /** Extends a held lease by the TTL. Throws `LEASE_LOST` when the session is held under another token, or by no one. */
  renew(lease: LeaseRef): Promise<SessionLease>;
  /** `renew` for many leases in few statements (the heartbeat): what was extended, and what was lost. */
  renewAll(leases: readonly LeaseRef[]): Promise<{ renewed: SessionLease[]; lost: LeaseRef[] }>;
  /** Gives the session up if held under `token` (then any node may claim it at once). True when it was. */
  release(lease: LeaseRef): Promise<boolean>;
  /** The session's lease, expired or not, or undefined when none is held. */
  current(sessionId: string): Promise<SessionLease | undefined>;
  /** Leases past their expiry, longest expired first, at most `limit`: sessions a dead node left to take over. */
  expired(limit: number): Promise<SessionLease[]>;
  /** Resolves when `token` is the session's current token; otherwise throws `LEASE_LOST`. */
  assertFenced(sessionId: string, token: number): Promise<void>;
  /**
   * Inside a transaction of the cluster's database: checks that `token` is
   * the session's current token and holds its lease row (`FOR SHARE`) until
   * the transaction ends, so no claim lands before the commit. Throws
   * `LEASE_LOST` when it is not (the caller rolls back).
   */
  assertFencedIn(trx: Transaction<SqlDatabase>, sessionId: string, token: number): Promise<void>;
  /**
   * Runs `work` in a transaction that first checks `token` against the
   * session's lease and holds the lease row (`FOR SHARE`) until commit, so
   * no claim can land between the check and the commit: either the whole
   * write commits before another node's claim, or none of it does. Throws
   * `LEASE_LOST` (nothing written) when `token` is not current; rethrows
   * what `work` throws, after rolling back.
   */
  withFencedTransaction<T>(
    sessionId: string,
    token: number,
    work: (trx: Transaction<SqlDatabase>) => Promise<T>,
  ): Promise<T>;
}

/** Leases renewed by one statement. */
const RENEW_BATCH = 500;

export function createSessionLeases(options: SessionLeasesOptions): SessionLeases {
  const { db: dataDb, ttlMs } = validateInput(optionsSchema, options, "session lease options");
  const db = dataDb.withTables<LeaseTables>();
  const expiry = (): Expression<Date> => sql<Date>`now() + ${ttlMs} * interval '1 millisecond'`;
  const columns = ["session_id", "node_id", "fencing_token", "expires_at"] as const;

  const toLease = (row: Selectable<SessionLeasesTable>): SessionLease => ({
    sessionId: row.session_id,
    nodeId: row.node_id,
    token: Number(row.fencing_token),
    expiresAt: row.expires_at,
  });

  const checkSession = (sessionId: string) => validateInput(sessionIdSchema, sessionId, "session id");
  const lost = (sessionId: string, token: number, current: SessionLease | undefined) =>
    new ClusterError(
      "LEASE_LOST",
      current === undefined
        ? `session ${sessionId} is no longer held under token ${token}: its lease was released`
        : `session ${sessionId} is no longer held under token ${token}: node ${current.nodeId} holds it under token ${current.token}`,
      { details: { sessionId, token, currentToken: current?.token } },
    );

  async function current(sessionId: string): Promise<SessionLease | undefined> {
    checkSession(sessionId);
    const row = await db
      .selectFrom("session_leases")
      .select(columns)
      .where("session_id", "=", sessionId)
      .executeTakeFirst();
    return row === undefined ? undefined : toLease(row);
  }

  async function claim(sessionId: string, nodeId: string): Promise<ClaimResult> {
    checkSession(sessionId);
    validateInput(nodeIdSchema, nodeId, "node id");
    // A holder that releases between the failed swap and the read is retried once; a second miss reports it free-and-taken.
    for (let attempt = 0; ; attempt++) {
      const row = await db
        .insertInto("session_leases")
        .values({ session_id: sessionId, node_id: nodeId, expires_at: expiry() })
        .onConflict((conflict) =>
          conflict
            .column("session_id")
            .doUpdateSet((eb) => ({
              node_id: eb.ref("excluded.node_id"),
              fencing_token: eb.ref("excluded.fencing_token"),
              expires_at: eb.ref("excluded.expires_at"),
            }))
            .where((eb) =>
              eb.or([
                eb("session_leases.expires_at", "<=", sql<Date>`now()`),
                eb("session_leases.node_id", "=", eb.ref("excluded.node_id")),
              ]),
            ),
        )
        .returning(columns)
        .executeTakeFirst();
      if (row !== undefined) return { acquired: true, lease: toLease(row) };
      const holder = await current(sessionId);
      if (holder !== undefined) return { acquired: false, holder };
      if (attempt >= 1) {
        throw new ClusterError(
          "LEASE_LOST",
          `session ${sessionId} changed hands while ${nodeId} claimed it; try again`,
        );
      }
    }
  }

  async function renewAll(
    leases: readonly LeaseRef[],
  ): Promise<{ renewed: SessionLease[]; lost: LeaseRef[] }> {
    for (const lease of leases) checkSession(lease.sessionId);
    const renewed: SessionLease[] = [];
    for (let start = 0; start < leases.length; start += RENEW_BATCH) {
      const batch = leases.slice(start, start + RENEW_BATCH);
      const rows = await db
        .updateTable("session_leases")
        .set({ expires_at: expiry() })
        .where((eb) =>
          eb(
            eb.refTuple("session_id", "fencing_token"),
            "in",
            batch.map((lease) => eb.tuple(lease.sessionId, String(lease.token))),
          ),
        )
        .returning(columns)
        .execute();
      renewed.push(...rows.map(toLease));
    }
    const key = (lease: LeaseRef) => `${lease.token}:${lease.sessionId}`;
    const kept = new Set(renewed.map(key));
    return { renewed, lost: leases.filter((lease) => !kept.has(key(lease))) };
  }

  async function assertFencedIn(trx: Transaction<SqlDatabase>, sessionId: string, token: number) {
    checkSession(sessionId);
    const row = await trx
      .withTables<LeaseTables>()
      .selectFrom("session_leases")
      .select(columns)
      .where("session_id", "=", sessionId)
      .forShare()
      .executeTakeFirst();
    const lease = row === undefined ? undefined : toLease(row);
    if (lease?.token !== token) throw lost(sessionId, token, lease);
  }

  return {
    ttlMs,
    claim,
    current,
    renewAll,

    async renew(lease) {
      const { renewed } = await renewAll([lease]);
      const extended = renewed[0];
      if (extended === undefined) throw lost(lease.sessionId, lease.token, await current(lease.sessionId));
      return extended;
    },

    async release(lease) {
      checkSession(lease.sessionId);
      const result = await db
        .deleteFrom("session_leases")
        .where("session_id", "=", lease.sessionId)
        .where("fencing_token", "=", String(lease.token))
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async expired(limit) {
      const rows = await db
        .selectFrom("session_leases")
        .select(columns)
        .where("expires_at", "<=", sql<Date>`now()`)
        .orderBy("expires_at")
        .limit(Math.max(0, Math.min(limit, 10_000)))
        .execute();
      return rows.map(toLease);
    },

    async assertFenced(sessionId, token) {
      const lease = await current(sessionId);
      if (lease?.token !== token) throw lost(sessionId, token, lease);
    },

    assertFencedIn,

    async withFencedTransaction(sessionId, token, work) {
      return dataDb.transaction().execute(async (trx) => {
        await assertFencedIn(trx, sessionId, token);
        return work(trx);
      });
    },
  };
}
