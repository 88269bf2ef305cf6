import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { type MockModel, type ScriptInput, startMockModel } from "@agent-runtime/mock-model";
import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIB, peakResidentBytes, resetPeakResident, residentBytes } from "../support/process-stats.js";
import { restClient } from "../support/rest.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { connectSocket, tcpOf, until } from "../support/socket-client.js";
import { SocketRecorder } from "../support/socket-recorder.js";

/** A reply of many text blocks: 32 MB of events to replay (the deltas, then each block again in its `complete`). */
const BLOCK_TEXT = "a story that goes on and on ".repeat(9362);
const BLOCKS = 64;
const CHUNK_SIZE = 65536;
/**
 * The server's resident memory may not pass this (about 250 MB at rest, with
 * a periodic sync of the session on top); replays queued whole took it to
 * gigabytes.
 */
const RSS_CEILING = 500 * MIB;
/** The attack stops early past this, to spare the machine when the bound does not hold. */
const ABORT_RSS = 700 * MIB;
const STALL_TIMEOUT_SECONDS = 10;

const script: ScriptInput = {
  rules: [
    {
      name: "long story",
      match: { prompt: "Tell the long story" },
      reply: { steps: Array.from({ length: BLOCKS }, () => BLOCK_TEXT), chunkSize: CHUNK_SIZE },
    },
  ],
};

/** Bytes of the events as socket.io frames carry them (their JSON). */
const wireBytes = (events: readonly unknown[]) =>
  events.reduce<number>((sum, e) => sum + JSON.stringify(e).length, 0);

/** Every event of a session, as a reading client gets it by joining with `afterSeq: 0`. */
async function replayAll(url: string, sessionId: string): Promise<SessionEvent[]> {
  const socket = await connectSocket(url);
  const events: SessionEvent[] = [];
  socket.onAny((_name: string, payload: SessionEvent) => {
    events.push(payload);
  });
  const ack = (await socket
    .timeout(120_000)
    .emitWithAck("session:join", { sessionId, afterSeq: 0 })) as JoinAck;
  if (!ack.ok) throw new Error(`join failed: ${ack.error.message}`);
  await until(() => (events.at(-1)?.seq ?? 0) >= ack.lastSeq, 60_000);
  socket.close();
  return events;
}

/**
 * Replay is bounded like live delivery (RELIABILITY 32, and 21 on the replay
 * path), against `agent-runtime serve` in its own process so its memory is
 * measured alone: a 32 MB replay reaches reading clients whole and in order,
 * a page at a time; a client that stops reading and asks for it again and
 * again costs the server one page, is dropped as a slow consumer, and
 * resumes by cursor with nothing lost or doubled.
 */
describe("socket replay under a hostile reader", () => {
  let mock: MockModel;
  let dataDir: string;
  let server: ServerProcess;
  let sessionId: string;

  beforeAll(async () => {
    mock = await startMockModel({ script });
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-replay-"));
    server = await startServerProcess({
      dataDir,
      modelUrl: mock.url,
      env: { AGENT_RUNTIME_SOCKET_STALL_TIMEOUT: String(STALL_TIMEOUT_SECONDS) },
    });
    const rest = restClient(server.url);
    sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    expect((await rest.send(sessionId, "Tell the long story")).status).toBe(202);
    await recorder.waitForTurns(1, 110_000);
    recorder.close();
  }, 180_000);
  afterAll(async () => {
    await server?.kill("SIGTERM");
    await mock?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("pages a 32 MB replay to 10 reading clients at once: every event once, in order, memory flat", async () => {
    const baseline = residentBytes(server.pid);
    resetPeakResident(server.pid);
    const replays = await Promise.all(Array.from({ length: 10 }, () => replayAll(server.url, sessionId)));
    const peak = peakResidentBytes(server.pid);
    const [first] = replays;
    const figures = {
      replayMb: wireBytes(first ?? []) / MIB,
      baselineMb: baseline / MIB,
      peakMb: peak / MIB,
    };
    console.info("replay to 10 readers", figures);
    expect(figures.replayMb).toBeGreaterThan(30);
    expect(first?.map((e) => e.seq)).toEqual(first?.map((_, i) => i + 1));
    for (const replay of replays) expect(replay).toEqual(first);
    expect(peak).toBeLessThan(RSS_CEILING);
  });

  it("drops a client that stops reading and asks for the 32 MB replay 100 times; server memory stays flat", async () => {
    resetPeakResident(server.pid);
    const attacker = await connectSocket(server.url);
    const seen: SessionEvent[] = [];
    let disconnected: string | undefined;
    attacker.on("disconnect", (reason) => {
      disconnected = reason;
    });
    attacker.onAny((_name: string, payload: SessionEvent) => {
      seen.push(payload);
      // After 20 events the client reads nothing more.
      if (seen.length === 20) tcpOf(attacker).pause();
    });
    attacker.emit("session:join", { sessionId, afterSeq: 0 });
    await until(() => seen.length >= 20);
    const attackStarted = Date.now();
    for (let i = 0; i < 100 && residentBytes(server.pid) < ABORT_RSS; i++) {
      attacker.emit("session:join", { sessionId, afterSeq: 0 });
      await delay(20);
    }
    // The server notices the stalled reader and drops it, its queue discarded.
    let dropLine: string | undefined;
    await until(() => {
      dropLine = server
        .output()
        .split("\n")
        .find((line) => line.includes("slow consumer"));
      return dropLine !== undefined || residentBytes(server.pid) >= ABORT_RSS;
    }, 30_000).catch(() => undefined);
    const droppedAfterMs = Date.now() - attackStarted;
    const peak = peakResidentBytes(server.pid);
    const figures = { peakMb: peak / MIB, droppedAfterMs, dropLine };
    console.info("replay attack", figures);
    expect(peak).toBeLessThan(RSS_CEILING);
    expect(dropLine).toBeDefined();
    // Dropped by the stall bound, well before socket.io's own heartbeat (25 s + 20 s) would have noticed.
    expect(droppedAfterMs).toBeLessThan((STALL_TIMEOUT_SECONDS + 10) * 1000);

    // Reading again, the client finds its connection gone and resumes from the last event it holds.
    tcpOf(attacker).resume();
    await until(() => disconnected !== undefined, 20_000);
    attacker.close();
    const reference = await replayAll(server.url, sessionId);
    // Every event it got is the server's, and it holds a contiguous prefix (repeated replays start over).
    for (const event of seen) expect(event).toEqual(reference[event.seq - 1]);
    let lastSeen = 0;
    for (const event of seen) if (event.seq === lastSeen + 1) lastSeen = event.seq;
    expect(lastSeen).toBeGreaterThanOrEqual(20);
    const resumed = await connectSocket(server.url);
    const after: SessionEvent[] = [];
    resumed.onAny((_name: string, payload: SessionEvent) => {
      after.push(payload);
    });
    const lastSeq = reference.at(-1)?.seq ?? 0;
    const ack = (await resumed
      .timeout(60_000)
      .emitWithAck("session:join", { sessionId, afterSeq: lastSeen })) as JoinAck;
    expect(ack).toMatchObject({ ok: true, lastSeq, replayed: lastSeq - lastSeen, snapshot: false });
    await until(() => (after.at(-1)?.seq ?? 0) >= lastSeq, 60_000);
    resumed.close();
    expect(after).toEqual(reference.slice(lastSeen));
  });
});
