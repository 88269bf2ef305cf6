import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { SessionRecord } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterError } from "../../src/cluster/cluster-error.js";
import { ClusterEventBus } from "../../src/cluster/cluster-event-bus.js";
import { ClusterOwnership } from "../../src/cluster/cluster-ownership.js";
import { createSessionLeases } from "../../src/cluster/session-leases.js";
import { emptyUsage } from "../../src/core/usage.js";
import type { BuiltInPersistenceAdapter } from "../../src/persistence/built-in-persistence-adapter.js";
import { createPostgresPersistenceAdapter } from "../../src/persistence/postgres/postgres-persistence-adapter.js";
import { skipPostgres } from "../persistence/postgres-test-schema.js";
import { type ClusterTestDatabase, createClusterTestDatabase } from "./cluster-test-database.js";
import { deleteKeys, redisUrl, testRedis, uniqueKeyPrefix } from "./redis-test-keys.js";

/** Short, so the takeover waits about a second; production uses the 15 s default. */
const TTL_MS = 1_000;

interface TestNode {
  readonly ownership: ClusterOwnership;
  readonly persistence: BuiltInPersistenceAdapter;
  readonly bus: ClusterEventBus;
}

function record(sessionId: string, title: string): SessionRecord {
  const now = new Date().toISOString();
  return {
    sessionId,
    agentProfileRef: "test",
    architecture: "claude-agent-sdk",
    sessionOptions: {},
    createdAt: now,
    updatedAt: now,
    lastSeq: 0,
    usage: emptyUsage(),
    title,
  };
}

/**
 * Fenced writes (issue 18): a node's session data goes to PostgreSQL only
 * under the lease it holds. Two nodes, each with its own ownership, event
 * bus connection and PostgreSQL adapter (fenced by its ownership), as two
 * `serve` processes have.
 */
describe.skipIf(skipPostgres)("cluster ownership: fenced session writes (PostgreSQL, Redis)", () => {
  let database: ClusterTestDatabase;
  let keyPrefix: string;
  let nodes: TestNode[] = [];

  const startNode = async (nodeId: string): Promise<TestNode> => {
    const bus = await ClusterEventBus.connect({ redisUrl, keyPrefix });
    const ownership = new ClusterOwnership({
      nodeId,
      leases: createSessionLeases({ db: database.connect(), ttlMs: TTL_MS }),
      bus,
      logger: pino({ level: "silent" }),
    });
    const persistence = createPostgresPersistenceAdapter({
      connectionString: database.url,
      fence: ownership.fence,
    });
    await persistence.init?.();
    return { ownership, persistence, bus };
  };

  beforeAll(async () => {
    database = await createClusterTestDatabase("ownership");
    keyPrefix = uniqueKeyPrefix("ownership");
    nodes = [await startNode("node-a"), await startNode("node-b")];
  });
  afterAll(async () => {
    for (const node of nodes) {
      await node.ownership.stop();
      await node.persistence.close?.();
      await node.bus.close();
    }
    await database?.drop();
    const redis = testRedis();
    await deleteKeys(redis, keyPrefix).finally(() => redis.quit());
  });

  it("refuses a session's writes from a node that does not hold it", async () => {
    const [a] = nodes as [TestNode, TestNode];
    const sessionId = randomUUID();
    const refused = await a.persistence.createSession(record(sessionId, "unowned")).catch((error) => error);
    expect(ClusterError.is(refused, "LEASE_LOST")).toBe(true);
    expect(await a.persistence.loadSession(sessionId)).toBeNull();
  });

  it("refuses every write of the old owner once another node took the session over, and keeps the new owner's", async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const sessionId = randomUUID();
    await a.ownership.acquire(sessionId);
    await a.persistence.createSession(record(sessionId, "from a"));
    await a.persistence.saveBlocks(sessionId, [
      { order: 0, block: { type: "assistant_text", id: "t1", timestamp: new Date().toISOString(), content: "a" } },
    ]);
    // Node a stops renewing (paused, cut off); past the TTL node b claims the session.
    await expect(b.ownership.acquire(sessionId)).rejects.toMatchObject({ code: "NODE_UNAVAILABLE" });
    await sleep(TTL_MS + 200);
    await b.ownership.acquire(sessionId);
    await b.persistence.updateSession({ ...record(sessionId, "from b"), lastSeq: 7 });

    const stale = [
      a.persistence.updateSession({ ...record(sessionId, "stale a"), lastSeq: 3 }),
      a.persistence.saveBlocks(sessionId, [
        { order: 1, block: { type: "assistant_text", id: "t2", timestamp: new Date().toISOString(), content: "stale" } },
      ]),
      a.persistence.appendTranscript(sessionId, "stale line\n"),
      a.persistence.saveWorkspaceFile(sessionId, {
        path: "stale.txt",
        size: 1,
        sha256: "a".repeat(64),
        modifiedAt: new Date().toISOString(),
        content: new Uint8Array([97]),
      }),
      a.persistence.deleteSession(sessionId),
    ];
    for (const outcome of await Promise.allSettled(stale)) {
      expect(outcome.status).toBe("rejected");
      if (outcome.status === "rejected") expect(outcome.reason).toMatchObject({ code: "LEASE_LOST" });
    }
    const stored = await b.persistence.loadSession(sessionId);
    expect(stored).toMatchObject({ title: "from b", lastSeq: 7 });
    expect((await b.persistence.loadBlocks(sessionId)).map((block) => block.id)).toEqual(["t1"]);
    expect(await b.persistence.loadTranscript(sessionId)).toBeNull();
    expect(await b.persistence.listWorkspaceFiles(sessionId)).toEqual([]);
  });
});
