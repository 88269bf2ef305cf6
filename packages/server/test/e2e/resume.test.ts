import { setTimeout as delay } from "node:timers/promises";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { JoinAck, SessionData, SessionEvent } from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockReplica } from "../support/block-replica.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Resume correctness (RELIABILITY 20) with the real agent: clients that drop
 * at random points during one long paced stream and re-join with the last
 * seq they saw end with the server's exact event sequence and block list.
 * With a small event window, an expired cursor gets a snapshot, then live
 * events, and still ends with the server's blocks.
 */
const LONG_TEXT = Array.from({ length: 120 }, (_, i) => `sentence ${i} of the long answer.`).join(" ");
const script: ScriptInput = {
  rules: [
    {
      name: "long-stream",
      match: { prompt: "Stream a long answer" },
      replies: [
        [
          "Let me check first.",
          { tool: "Bash", input: { command: "echo resume-check", description: "Check" } },
        ],
        { steps: [LONG_TEXT], chunkDelayMs: 3, chunkSize: 3 },
      ],
    },
  ],
};

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function connect(url: string): Promise<Socket> {
  const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

interface FlakyResult {
  readonly events: SessionEvent[];
  readonly snapshots: number;
  readonly reconnects: number;
  readonly replica: BlockReplica;
}

/**
 * A client that joins, listens for a random 0–60 ms, drops its connection
 * (discarding whatever is still in flight) and re-joins with the last seq it
 * recorded, until it has seen `finalSeq()` (known once the turn is over).
 */
async function flakyClient(
  url: string,
  sessionId: string,
  finalSeq: () => number | undefined,
  rng: () => number,
): Promise<FlakyResult> {
  const events: SessionEvent[] = [];
  const replica = new BlockReplica();
  let snapshots = 0;
  let reconnects = 0;
  for (;;) {
    const socket = await connect(url);
    let recording = true;
    socket.onAny((name: string, payload: unknown) => {
      if (!recording) return;
      if (name === "session:snapshot") {
        snapshots += 1;
        replica.reset((payload as { session: SessionData }).session);
        return;
      }
      const event = payload as SessionEvent;
      events.push(event);
      replica.apply(event);
    });
    const ack = (await socket
      .timeout(10_000)
      .emitWithAck("session:join", { sessionId, afterSeq: events.at(-1)?.seq ?? 0 })) as JoinAck;
    expect(ack.ok).toBe(true);
    const end = finalSeq();
    if (end !== undefined) {
      while ((events.at(-1)?.seq ?? 0) < end) await delay(5);
      socket.close();
      return { events, snapshots, reconnects, replica };
    }
    await delay(rng() * 60);
    recording = false;
    socket.close();
    reconnects += 1;
  }
}

describe("resume after disconnects", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    // Four clients re-joining from one address 100+ times in a few seconds: over the default socket event rate.
    server = await startTestServer({ script, server: { socketRateLimit: false } });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("clients dropping at 100+ random points end with the server's exact sequence and blocks", async () => {
    const sessionId = await rest.createSession();
    const reference = new SocketRecorder(server.url);
    await reference.join(sessionId, 0);
    let final: number | undefined;
    const clients = [1, 2, 3, 4].map((seed) => flakyClient(server.url, sessionId, () => final, random(seed)));
    await rest.send(sessionId, "Stream a long answer");
    await reference.waitForTurns(1, 60_000);
    final = (await rest.session(sessionId)).lastSeq;
    const results = await Promise.all(clients);
    reference.close();

    const data = await rest.session(sessionId);
    expect(data.lastSeq).toBe(final);
    const expected = reference.events.filter((e) => e.seq <= final!);
    expect(expected.map((e) => e.seq)).toEqual(expected.map((_, i) => i + 1));
    const deltas = expected.filter((e) => e.type === "session:block:delta").length;
    expect(deltas).toBeGreaterThan(200);

    const reconnects = results.reduce((sum, r) => sum + r.reconnects, 0);
    expect(reconnects).toBeGreaterThanOrEqual(100);
    for (const result of results) {
      expect(result.snapshots).toBe(0);
      // Contiguous, no gap, no duplicate, and the very same events as the server sent live.
      expect(result.events.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
      expect(result.events).toEqual(expected);
      expect(result.replica.mainBlocks()).toEqual(data.blocks);
    }

    // 100 more cursors against the live server: each join replays exactly the rest.
    const socket = await connect(server.url);
    const received: SessionEvent[] = [];
    socket.onAny((_name: string, payload: SessionEvent) => received.push(payload));
    const rng = random(42);
    for (let i = 0; i < 100; i++) {
      const cursor = Math.floor(rng() * (final + 1));
      received.length = 0;
      const ack = (await socket.timeout(10_000).emitWithAck("session:join", {
        sessionId,
        afterSeq: cursor,
      })) as JoinAck;
      expect(ack).toMatchObject({ ok: true, snapshot: false, replayed: final - cursor });
      expect(received).toEqual(expected.slice(cursor));
      await socket.timeout(10_000).emitWithAck("session:leave", { sessionId });
    }
    socket.close();
  });
});

describe("resume with an expired cursor", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    server = await startTestServer({ script, runtime: { eventWindowSize: 40 } });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("gets a snapshot, then live events, and ends with the server's blocks", async () => {
    const sessionId = await rest.createSession();
    const watcher = new SocketRecorder(server.url);
    await watcher.join(sessionId, 0);
    await rest.send(sessionId, "Stream a long answer");
    // Well into the long text, so the window has moved past seq 1 and blocks are in flight.
    const deltas = () => watcher.events.filter((e) => e.type === "session:block:delta").length;
    await watcher.waitFor(() => deltas() >= 100, 60_000);

    const late = await connect(server.url);
    const replica = new BlockReplica();
    const after: SessionEvent[] = [];
    let snapshotSeq: number | undefined;
    late.onAny((name: string, payload: unknown) => {
      if (name === "session:snapshot") {
        const snapshot = payload as { seq: number; session: SessionData };
        snapshotSeq = snapshot.seq;
        replica.reset(snapshot.session);
        return;
      }
      after.push(payload as SessionEvent);
      replica.apply(payload as SessionEvent);
    });
    const ack = (await late
      .timeout(10_000)
      .emitWithAck("session:join", { sessionId, afterSeq: 1 })) as JoinAck;
    expect(ack).toMatchObject({ ok: true, snapshot: true, replayed: 0 });
    expect(snapshotSeq).toBe(ack.ok ? ack.lastSeq : -1);
    expect(replica.mainBlocks().some((b) => b.type === "assistant_text")).toBe(true);

    await watcher.waitForTurns(1, 60_000);
    const final = (await rest.session(sessionId)).lastSeq;
    while ((after.at(-1)?.seq ?? 0) < final) await delay(5);
    late.close();
    watcher.close();

    // Live events continue right after the snapshot's seq: no gap, no duplicate.
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => snapshotSeq! + 1 + i));
    const data = await rest.session(sessionId);
    expect(replica.mainBlocks()).toEqual(data.blocks);
    const story = data.blocks.at(-1);
    expect(story?.type === "assistant_text" && story.content).toBe(LONG_TEXT);
  });
});
