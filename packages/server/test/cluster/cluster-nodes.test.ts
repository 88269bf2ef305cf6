import { rm } from "node:fs/promises";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { SessionData, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { longStoryRule, notesRule } from "../support/scripts.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { type ClusterNodeProcess, startClusterNode } from "./cluster-node-process.js";
import { type ClusterTestDatabase, createClusterTestDatabase } from "./cluster-test-database.js";
import { deleteKeys, testRedis, uniqueKeyPrefix } from "./redis-test-keys.js";

/**
 * Cluster mode end to end (issue 18): three real `agent-runtime serve`
 * processes sharing one PostgreSQL database and one Redis, each with its own
 * data folder and local sandboxes, the real Claude Code against one mock
 * model, real socket.io clients. Leases last 3 s here (15 s by default).
 */

const LEASE_TTL_SECONDS = 3;

type Node = ClusterNodeProcess;

describe("cluster mode: three nodes on PostgreSQL and Redis", () => {
  let mock: MockModel;
  let database: ClusterTestDatabase;
  let keyPrefix: string;
  let nodes: Node[] = [];
  const recorders: SocketRecorder[] = [];

  const startNode = (name: string, port?: number, dataDir?: string): Promise<Node> =>
    startClusterNode({
      name,
      databaseUrl: database.url,
      keyPrefix,
      modelUrl: mock.url,
      leaseTtlSeconds: LEASE_TTL_SECONDS,
      ...(port === undefined ? {} : { port }),
      ...(dataDir === undefined ? {} : { dataDir }),
    });

  const record = async (node: Node, sessionId: string, afterSeq?: number): Promise<SocketRecorder> => {
    const recorder = new SocketRecorder(node.url);
    recorders.push(recorder);
    const ack = await recorder.join(sessionId, afterSeq);
    expect(ack, `join on ${node.name}`).toMatchObject({ ok: true });
    return recorder;
  };

  beforeAll(async () => {
    mock = await startMockModel({ script: { rules: [notesRule, longStoryRule] } });
    database = await createClusterTestDatabase("cluster_nodes");
    keyPrefix = uniqueKeyPrefix("nodes");
    nodes = [];
    for (const name of ["n1", "n2", "n3"]) nodes.push(await startNode(name));
  });

  afterEach(() => {
    for (const recorder of recorders.splice(0)) recorder.close();
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.process.kill("SIGTERM")));
    await mock?.close();
    await database?.drop();
    const redis = testRedis();
    await deleteKeys(redis, keyPrefix).finally(() => redis.quit());
    // A node killed by a test may leave a sandbox's disk mounted until its sandbox processes are gone.
    await Promise.allSettled(nodes.map((node) => rm(node.dataDir, { recursive: true, force: true })));
  });

  it("serves one session from any node: created on n1, watched on n2, driven through n3, one contiguous stream", async () => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    // Each node reports itself ready as a member of the cluster.
    for (const node of nodes) {
      const ready = await fetch(`${node.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { cluster: { ok: true } } });
    }
    const sessionId = await createSession(n1);
    const watcher = await record(n2, sessionId);
    const sent = await post(n3, `/sessions/${sessionId}/messages`, { content: "Create notes.txt" });
    expect(sent.status).toBe(202);
    await watcher.waitForTurns(1, 90_000);

    const late = await record(n3, sessionId, 0);
    await late.waitForTurns(1, 30_000);
    const seqs = watcher.events.map((event) => event.seq);
    expect(seqs, "contiguous seq on n2").toEqual(range(seqs[0]!, seqs.length));
    expect(seqs[0]).toBe(1);
    expect(late.events, "n3's replay equals n2's live stream").toEqual(
      watcher.events.slice(0, late.events.length),
    );

    // Every node answers the same session: reads are forwarded to its owner.
    const views = await Promise.all(nodes.map((node) => session(node, sessionId)));
    expect(views.map((view) => view.blocks)).toEqual([views[0]!.blocks, views[0]!.blocks, views[0]!.blocks]);
    expect(views[0]!.files.map((file) => file.path)).toContain("notes.txt");
    const file = await fetch(`${n2.url}/sessions/${sessionId}/files/notes.txt`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("remember the milk\n");

    // The forwarded message is audited once, by the node that ran it (audit records are written in batches).
    await expect
      .poll(
        async () => {
          const answer = await fetch(`${n2.url}/audit?sessionId=${sessionId}`);
          const { records } = (await answer.json()) as { records: Array<{ action: string }> };
          return records.filter((record) => record.action === "session.message").length;
        },
        { timeout: 10_000, interval: 250 },
      )
      .toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const audit = await fetch(`${n1.url}/audit?sessionId=${sessionId}`);
    const { records } = (await audit.json()) as { records: Array<{ action: string }> };
    expect(records.filter((record) => record.action === "session.message")).toHaveLength(1);
  });

  it("takes a session over after a kill -9 of its node mid-turn: the turn ends with SERVER_RESTARTED, the next message runs on another node", async () => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const sessionId = await createSession(n1);
    const watcher = await record(n2, sessionId);
    expect(
      (await post(n3, `/sessions/${sessionId}/messages`, { content: "Tell me a long story" })).status,
    ).toBe(202);
    await watcher.waitFor((event) => event.type === "session:block:delta", 60_000);
    const killedAt = Date.now();
    await n1.process.kill("SIGKILL");

    const closed = await watcher.waitFor(
      (event) =>
        event.type === "session:block:complete" &&
        event.block.type === "error" &&
        event.block.code === "SERVER_RESTARTED",
      (LEASE_TTL_SECONDS + 20) * 1000,
    );
    const tookMs = Date.now() - killedAt;
    await watcher.waitFor((event) => event.type === "session:turn:completed" && event.stopReason === "error");
    expect(closed.seq).toBeGreaterThan(0);
    // The lease TTL, a scan (a third of it) and the load.
    expect(tookMs).toBeLessThan((LEASE_TTL_SECONDS + 15) * 1000);

    const response = await post(n3, `/sessions/${sessionId}/messages`, { content: "Create notes.txt" });
    expect(response.status).toBe(202);
    await watcher.waitForTurns(2, 90_000);
    const seqs = watcher.events.map((event) => event.seq);
    expect(seqs, "no duplicate or missing seq across the takeover").toEqual(range(seqs[0]!, seqs.length));
    const view = await session(n2, sessionId);
    expect(view.files.map((file) => file.path)).toContain("notes.txt");

    // n1 comes back on its old port and data: it joins the cluster again.
    nodes[0] = await startNode("n1", n1.port, n1.dataDir);
    expect((await session(nodes[0], sessionId)).blocks).toEqual(view.blocks);
  });

  it("fences a paused owner: after SIGSTOP past the lease, another node runs the session, and the old owner's writes are refused once it resumes", async () => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const sessionId = await createSession(n3);
    const watcher = await record(n2, sessionId);
    expect((await post(n3, `/sessions/${sessionId}/messages`, { content: "Create notes.txt" })).status).toBe(
      202,
    );
    await watcher.waitForTurns(1, 90_000);
    process.kill(n3.process.pid, "SIGSTOP");
    try {
      // Past the lease: n1 takes it over (its scan, or this request, claims it).
      await new Promise((resolve) => setTimeout(resolve, (LEASE_TTL_SECONDS + 1) * 1000));
      await expect
        .poll(
          async () =>
            (await post(n1, `/sessions/${sessionId}/messages`, { content: "Tell me a long story" })).status,
          {
            timeout: 20_000,
            interval: 500,
          },
        )
        .toBe(202);
      const started = await watcher.waitFor(
        (event) => event.type === "session:turn:started" && event.content === "Tell me a long story",
      );
      await watcher.waitFor(
        (event) =>
          event.type === "session:turn:completed" && "turnId" in started && event.turnId === started.turnId,
      );
    } finally {
      process.kill(n3.process.pid, "SIGCONT");
    }
    // The resumed node finds its lease taken (heartbeat, or its refused writes) and stops running the session.
    await expect
      .poll(() => n3.process.output(), { timeout: 20_000, interval: 250 })
      .toMatch(/this node lost the session/);
    const synced = await post(n2, `/sessions/${sessionId}/sync`, {});
    expect(synced.status).toBe(200);
    const seqs = watcher.events.map((event) => event.seq);
    expect(seqs, "one contiguous stream whoever ran the session").toEqual(range(seqs[0]!, seqs.length));
    const db = database.connect();
    const stored = await db
      .selectFrom("sessions")
      .select("record")
      .where("id", "=", sessionId)
      .executeTakeFirstOrThrow();
    const storedRecord = JSON.parse(stored.record) as { lastSeq: number; openTurnId?: string };
    expect(storedRecord.lastSeq, "the stored record is the new owner's, not the paused one's").toBe(
      seqs.at(-1),
    );
    expect(storedRecord.openTurnId).toBeUndefined();
    const lease = await db
      .selectFrom("session_leases")
      .select(["node_id"])
      .where("session_id", "=", sessionId)
      .executeTakeFirstOrThrow();
    // n1's request or a takeover scan claimed it: either way not the paused node.
    expect(lease.node_id).not.toBe("n3");
  });
  it("loses no event through a rolling restart of all three nodes under a steady message load", {
    timeout: 400_000,
  }, async () => {
    const sessionIds = [
      await createSession(nodes[0]!),
      await createSession(nodes[1]!),
      await createSession(nodes[2]!),
    ];
    const watchers = sessionIds.map(
      (sessionId, index) => new ResilientWatcher(sessionId, () => nodes, index),
    );
    for (const watcher of watchers) await watcher.start();
    const failures: string[] = [];
    let stop = false;
    // Each session gets a message after each finished turn, through any node that answers.
    const load = sessionIds.map(async (sessionId, index) => {
      let sent = 0;
      while (!stop) {
        const status = await postAnywhere(
          nodes,
          `/sessions/${sessionId}/messages`,
          { content: "Create notes.txt" },
          failures,
        );
        if (status !== 202) continue;
        sent += 1;
        await watchers[index]!.waitForCompletedTurns(sent, 120_000);
      }
      return sent;
    });
    for (let index = 0; index < nodes.length; index++) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const node = nodes[index]!;
      await node.process.kill("SIGTERM");
      nodes[index] = await startNode(node.name, node.port, node.dataDir);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stop = true;
    const sent = await Promise.all(load);
    expect(Math.min(...sent), "every session kept taking messages").toBeGreaterThan(1);
    expect(
      failures.filter((failure) => !/^503 |^unreachable /.test(failure)),
      "failed requests",
    ).toEqual([]);
    for (const [index, sessionId] of sessionIds.entries()) {
      const watcher = watchers[index]!;
      const seqs = watcher.events.map((event) => event.seq);
      expect(seqs, `session ${index}: contiguous, nothing lost or doubled`).toEqual(range(1, seqs.length));
      // The watcher holds every event up to the session's last, whichever node answers.
      await expect
        .poll(async () => (await session(nodes[(index + 1) % 3]!, sessionId)).lastSeq, { timeout: 10_000 })
        .toBe(watcher.events.at(-1)?.seq);
      watcher.close();
    }
  });
});

async function createSession(node: Node): Promise<string> {
  const response = await post(node, "/sessions", { agentProfileRef: "test" });
  if (response.status !== 201)
    throw new Error(`create on ${node.name}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as SessionData).sessionId;
}

/** A POST; an answer other than 2xx is logged with its body (what a failed expectation then shows). */
async function post(node: Node, path: string, body: unknown): Promise<Response> {
  const response = await fetch(`${node.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status >= 300)
    console.warn(`POST ${path} on ${node.name}: ${response.status} ${await response.clone().text()}`);
  return response;
}

async function session(node: Node, sessionId: string): Promise<SessionData> {
  const response = await fetch(`${node.url}/sessions/${sessionId}`);
  if (response.status !== 200)
    throw new Error(`GET session on ${node.name}: ${response.status} ${await response.text()}`);
  return (await response.json()) as SessionData;
}

function range(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => first + index);
}

/**
 * POSTs through the first node that answers something other than a 503
 * (as a load balancer retrying on 503 would), trying each node in turn for
 * up to a minute. Every refusal is recorded in `failures`.
 */
async function postAnywhere(
  nodes: readonly Node[],
  path: string,
  body: unknown,
  failures: string[],
): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const node = nodes[attempt % nodes.length]!;
    try {
      const response = await fetch(`${node.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status !== 503) {
        if (response.status >= 300) failures.push(`${response.status} ${await response.text()}`);
        return response.status;
      }
      failures.push(`503 ${await response.text()}`);
    } catch (error) {
      failures.push(`unreachable ${node.name}: ${String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return 0;
}

/**
 * A socket client following one session through node restarts: when its
 * node drops it, it joins again on the next node with the last seq it
 * holds, as an application behind a load balancer does.
 */
class ResilientWatcher {
  readonly events: SessionEvent[] = [];
  private recorder: SocketRecorder | undefined;
  private closed = false;

  constructor(
    private readonly sessionId: string,
    private readonly nodes: () => readonly Node[],
    private nodeIndex: number,
  ) {}

  async start(): Promise<void> {
    while (!this.closed) {
      const node = this.nodes()[this.nodeIndex % 3]!;
      const recorder = new SocketRecorder(node.url);
      const afterSeq = this.events.at(-1)?.seq ?? 0;
      // Attached before the join: its replay arrives before its acknowledgement.
      recorder.socket.onAny((name: string, payload: SessionEvent) => {
        if (name === "session:snapshot" || typeof payload?.seq !== "number") return;
        if (payload.seq === (this.events.at(-1)?.seq ?? 0) + 1) this.events.push(payload);
        else this.events.push({ ...payload, gap: true } as SessionEvent);
      });
      try {
        const ack = await recorder.join(this.sessionId, afterSeq);
        if (!ack.ok) throw new Error(JSON.stringify(ack));
      } catch {
        recorder.close();
        this.nodeIndex += 1;
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      this.recorder = recorder;
      recorder.socket.once("disconnect", () => {
        if (this.closed) return;
        this.nodeIndex += 1;
        void this.start();
      });
      return;
    }
  }

  async waitForCompletedTurns(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.filter((event) => event.type === "session:turn:completed").length < count) {
      if (Date.now() > deadline)
        throw new Error(`session ${this.sessionId}: ${count} turns did not complete`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): void {
    this.closed = true;
    this.recorder?.close();
  }
}
