import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterError } from "../../src/cluster/cluster-error.js";
import { LeaseHeartbeat } from "../../src/cluster/lease-heartbeat.js";
import {
  createSessionLeases,
  type SessionLease,
  type SessionLeases,
} from "../../src/cluster/session-leases.js";
import { migrateSqlDatabase } from "../../src/persistence/sql/sql-migrations.js";
import { skipPostgres } from "../persistence/postgres-test-schema.js";
import { type ClusterTestDatabase, createClusterTestDatabase } from "./cluster-test-database.js";

/** Short, so takeover tests wait about a second; production uses the 15 s default. */
const TTL_MS = 1_000;

async function acquired(leases: SessionLeases, sessionId: string, nodeId: string): Promise<SessionLease> {
  const result = await leases.claim(sessionId, nodeId);
  if (!result.acquired)
    throw new Error(`${nodeId} did not get ${sessionId}: held by ${result.holder.nodeId}`);
  return result.lease;
}

/** Inserts a session row, as a node's persistence write for the session would. */
function writeSession(sessionId: string, marker: string) {
  return (trx: Parameters<Parameters<SessionLeases["withFencedTransaction"]>[2]>[0]) =>
    trx
      .insertInto("sessions")
      .values({ id: sessionId, record: marker, created_at: "t", updated_at: "t" })
      .onConflict((conflict) => conflict.column("id").doUpdateSet({ record: marker }))
      .execute();
}

describe.skipIf(skipPostgres)("session leases (PostgreSQL)", () => {
  let database: ClusterTestDatabase;
  /** Two nodes, each with its own connection pool. */
  let nodeA: SessionLeases;
  let nodeB: SessionLeases;

  beforeAll(async () => {
    database = await createClusterTestDatabase("leases");
    nodeA = createSessionLeases({ db: database.connect(), ttlMs: TTL_MS });
    nodeB = createSessionLeases({ db: database.connect(), ttlMs: TTL_MS });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("lets exactly one of two racing nodes claim a session", async () => {
    for (let round = 0; round < 20; round++) {
      const sessionId = randomUUID();
      const [a, b] = await Promise.all([nodeA.claim(sessionId, "node-a"), nodeB.claim(sessionId, "node-b")]);
      expect([a.acquired, b.acquired].filter(Boolean)).toHaveLength(1);
      const winner = a.acquired ? a.lease : b.acquired ? b.lease : undefined;
      const loser = a.acquired ? b : a;
      expect(loser.acquired ? undefined : loser.holder).toEqual(winner);
      expect(await nodeA.current(sessionId)).toEqual(winner);
    }
  });

  it("refuses a claim while the lease is live, and lets another node take it over after the TTL with a new token", async () => {
    const sessionId = randomUUID();
    const first = await acquired(nodeA, sessionId, "node-a");
    const refused = await nodeB.claim(sessionId, "node-b");
    expect(refused).toEqual({ acquired: false, holder: first });

    await sleep(first.expiresAt.getTime() - Date.now() + 50);
    const takeover = await acquired(nodeB, sessionId, "node-b");
    expect(takeover.nodeId).toBe("node-b");
    expect(takeover.token).toBeGreaterThan(first.token);

    await expect(nodeA.renew(first)).rejects.toSatisfy((error) => ClusterError.is(error, "LEASE_LOST"));
    await expect(nodeA.assertFenced(sessionId, first.token)).rejects.toSatisfy((error) =>
      ClusterError.is(error, "LEASE_LOST"),
    );
    await expect(nodeB.assertFenced(sessionId, takeover.token)).resolves.toBeUndefined();
    expect(await nodeA.expired(100)).not.toContainEqual(expect.objectContaining({ sessionId }));
  });

  it("bumps the token when a node claims a session it already holds", async () => {
    const sessionId = randomUUID();
    const first = await acquired(nodeA, sessionId, "node-a");
    const again = await acquired(nodeA, sessionId, "node-a");
    expect(again.token).toBeGreaterThan(first.token);
    await expect(nodeA.assertFenced(sessionId, first.token)).rejects.toSatisfy((error) =>
      ClusterError.is(error, "LEASE_LOST"),
    );
  });

  it("refuses a write under a stale token and commits the current holder's", async () => {
    const sessionId = randomUUID();
    const stale = await acquired(nodeA, sessionId, "node-a");
    await nodeA.release(stale);
    const current = await acquired(nodeB, sessionId, "node-b");

    await expect(
      nodeA.withFencedTransaction(sessionId, stale.token, writeSession(sessionId, "from the stale node")),
    ).rejects.toSatisfy((error) => ClusterError.is(error, "LEASE_LOST"));
    const db = database.connect();
    expect(await db.selectFrom("sessions").select("record").where("id", "=", sessionId).execute()).toEqual(
      [],
    );

    await nodeB.withFencedTransaction(sessionId, current.token, writeSession(sessionId, "from the owner"));
    expect(await db.selectFrom("sessions").select("record").where("id", "=", sessionId).execute()).toEqual([
      { record: "from the owner" },
    ]);
  });

  it("rolls a fenced write back when the lease moved before it committed", async () => {
    const sessionId = randomUUID();
    const lease = await acquired(nodeA, sessionId, "node-a");
    await expect(
      nodeA.withFencedTransaction(sessionId, lease.token, async (trx) => {
        await writeSession(sessionId, "half done")(trx);
        throw new Error("the write failed half way");
      }),
    ).rejects.toThrow("the write failed half way");
    const db = database.connect();
    expect(await db.selectFrom("sessions").select("id").where("id", "=", sessionId).execute()).toEqual([]);
  });

  it("makes a takeover wait for a fenced write in flight, so the write lands before the new owner's claim", async () => {
    const sessionId = randomUUID();
    const old = await acquired(nodeA, sessionId, "node-a");
    await sleep(old.expiresAt.getTime() - Date.now() + 50);

    let finishWrite!: () => void;
    const writeMayFinish = new Promise<void>((resolve) => {
      finishWrite = resolve;
    });
    let writeStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      writeStarted = resolve;
    });
    const write = nodeA.withFencedTransaction(sessionId, old.token, async (trx) => {
      writeStarted();
      await writeMayFinish;
      await writeSession(sessionId, "written by the old owner")(trx);
    });
    await started;
    let claimed = false;
    const claim = nodeB.claim(sessionId, "node-b").then((result) => {
      claimed = true;
      return result;
    });
    try {
      await sleep(300);
      expect(claimed).toBe(false);
    } finally {
      finishWrite();
    }
    await write;
    const result = await claim;
    expect(result.acquired).toBe(true);
    await expect(
      nodeA.withFencedTransaction(sessionId, old.token, writeSession(sessionId, "too late")),
    ).rejects.toSatisfy((error) => ClusterError.is(error, "LEASE_LOST"));
  });

  it("releases a lease only under its token, after which another node claims at once", async () => {
    const sessionId = randomUUID();
    const lease = await acquired(nodeA, sessionId, "node-a");
    expect(await nodeB.release({ sessionId, token: lease.token + 1_000 })).toBe(false);
    expect((await nodeB.claim(sessionId, "node-b")).acquired).toBe(false);
    expect(await nodeA.release(lease)).toBe(true);
    expect(await nodeA.current(sessionId)).toBeUndefined();
    const next = await acquired(nodeB, sessionId, "node-b");
    expect(next.token).toBeGreaterThan(lease.token);
  });

  it("lists expired leases as takeover candidates", async () => {
    const sessionId = randomUUID();
    const lease = await acquired(nodeA, sessionId, "node-a");
    expect(await nodeB.expired(1_000)).not.toContainEqual(expect.objectContaining({ sessionId }));
    await sleep(lease.expiresAt.getTime() - Date.now() + 50);
    expect(await nodeB.expired(1_000)).toContainEqual(lease);
  });

  it("keeps a lease past several TTLs while its heartbeat runs, and lets it go once it stops", async () => {
    const sessionId = randomUUID();
    const lease = await acquired(nodeA, sessionId, "node-a");
    const lost: string[] = [];
    const heartbeat = new LeaseHeartbeat({
      leases: nodeA,
      intervalMs: TTL_MS / 4,
      onLost: (lost_) => lost.push(lost_.sessionId),
    });
    heartbeat.hold(lease);
    heartbeat.start();
    try {
      const until = Date.now() + TTL_MS * 2.5;
      while (Date.now() < until) {
        expect((await nodeB.claim(sessionId, "node-b")).acquired).toBe(false);
        await sleep(TTL_MS / 5);
      }
    } finally {
      await heartbeat.stop();
    }
    expect(lost).toEqual([]);
    await sleep(TTL_MS + 100);
    expect((await nodeB.claim(sessionId, "node-b")).acquired).toBe(true);
  });

  it("tells the heartbeat's owner when a held lease was taken", async () => {
    const sessionId = randomUUID();
    const lease = await acquired(nodeA, sessionId, "node-a");
    const lost: SessionLease[] = [];
    const heartbeat = new LeaseHeartbeat({ leases: nodeA, intervalMs: 60_000, onLost: (l) => lost.push(l) });
    heartbeat.hold(lease);
    await nodeA.release(lease);
    await acquired(nodeB, sessionId, "node-b");
    await heartbeat.beat();
    expect(lost).toEqual([lease]);
    expect(heartbeat.held()).toEqual([]);
  });

  it("counts lease time on the database's clock", async () => {
    const sessionId = randomUUID();
    const lease = await acquired(nodeA, sessionId, "node-a");
    const { rows } = await sql<{ now: Date }>`select now() as now`.execute(database.connect());
    const remaining = lease.expiresAt.getTime() - rows[0]!.now.getTime();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(TTL_MS);
  });

  it("works in a schema of its own, as the PostgreSQL adapter's `schema` option places the tables", async () => {
    const root = database.connect();
    await root.schema.createSchema("cluster_leases").execute();
    const db = root.withSchema("cluster_leases");
    await migrateSqlDatabase(db, { dialect: "postgres", migrationTableSchema: "cluster_leases" });
    const [schemaA, schemaB] = [
      createSessionLeases({ db, ttlMs: TTL_MS }),
      createSessionLeases({ db: database.connect().withSchema("cluster_leases"), ttlMs: TTL_MS }),
    ];
    const sessionId = randomUUID();
    const [a, b] = await Promise.all([
      schemaA.claim(sessionId, "node-a"),
      schemaB.claim(sessionId, "node-b"),
    ]);
    expect([a.acquired, b.acquired].filter(Boolean)).toHaveLength(1);
    const lease = a.acquired ? a.lease : b.acquired ? b.lease : undefined;
    await schemaA.renew(lease!);
    await schemaA.withFencedTransaction(sessionId, lease!.token, writeSession(sessionId, "in the schema"));
    expect(await db.selectFrom("sessions").select("record").where("id", "=", sessionId).execute()).toEqual([
      { record: "in the schema" },
    ]);
    expect(await nodeA.current(sessionId)).toBeUndefined();
    expect(await schemaB.release(lease!)).toBe(true);
  });

  it("refuses malformed ids before touching the database", async () => {
    await expect(nodeA.claim("", "node-a")).rejects.toThrow();
    await expect(nodeA.claim(randomUUID(), "node a; drop table")).rejects.toThrow();
    await expect(nodeA.claim("x".repeat(300), "node-a")).rejects.toThrow();
  });
});
