import { chmod, mkdtemp, rm } from "node:fs/promises";
import type { Socket as NetSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { startMockModel } from "@agent-runtime/mock-model";
import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";
import { processMemory, resetPeakMemory, startServeProcess } from "./server-process.js";

const CLIENTS = 100;
/** How fast each slow client reads. */
const CLIENT_BYTES_PER_SECOND = 1024 * 1024;
/** The clients stop after this long, done or not. */
const RUN_MS = 45_000;
/** 64 text blocks of 256 KB: with each block's `complete` event, a 32 MB replay. */
const BLOCK_TEXT = "a story that goes on and on ".repeat(9362);
const MiB = 2 ** 20;

export interface SocketReplayResult {
  /** Bytes of the session's replay (its events as JSON). */
  readonly replayMb: number;
  /** The server's resident memory before the replays. */
  readonly baselineRssMb: number;
  /** Its peak while the slow clients replayed. */
  readonly peakRssGrowthMb: number;
  /** What the clients received in all, and how long they ran. */
  readonly receivedMb: number;
  readonly seconds: number;
  /** Clients that got the whole replay within the run. */
  readonly completed: number;
  /** Clients the server dropped (they would resume with `afterSeq`). */
  readonly dropped: number;
}

/**
 * Server memory while 100 slow clients (1 MiB/s each) replay a 32 MB
 * session from its start over socket.io, measured on `agent-runtime serve`
 * in its own process (SQLite, a real local sandbox, the real Claude Code
 * against the mock model, which streams the session). Memory is the server
 * process's peak resident set (`VmHWM`, reset before the run), so the
 * clients' own buffers do not count; it must stay flat, not grow with
 * clients × replay.
 */
export async function measureSocketReplay(): Promise<SocketReplayResult> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-replay-"));
  await chmod(dataDir, 0o711);
  const mock = await startMockModel({
    script: {
      rules: [
        {
          match: { prompt: "Tell the long story" },
          reply: { steps: Array.from({ length: 64 }, () => BLOCK_TEXT), chunkSize: 65_536 },
        },
      ],
    },
  });
  const server = await startServeProcess(dataDir, mock.url);
  try {
    const created = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "bench" }),
    });
    const { sessionId } = (await created.json()) as { sessionId: string };
    const events = await storyTurn(server.url, sessionId);
    const replayBytes = events.reduce((sum, event) => sum + JSON.stringify(event).length, 0);
    const lastSeq = events.at(-1)?.seq ?? 0;
    await delay(1000);
    const baselineRss = (await processMemory(server.process)).rss;

    await resetPeakMemory(server.process);
    const started = performance.now();
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () => slowReplay(server.url, sessionId, lastSeq)),
    );
    const seconds = (performance.now() - started) / 1000;
    const { peak } = await processMemory(server.process);
    return {
      replayMb: replayBytes / MiB,
      baselineRssMb: baselineRss / MiB,
      peakRssGrowthMb: (peak - baselineRss) / MiB,
      receivedMb: clients.reduce((sum, client) => sum + client.bytes, 0) / MiB,
      seconds,
      completed: clients.filter((client) => client.completed).length,
      dropped: clients.filter((client) => client.dropped).length,
    };
  } finally {
    await server.stop();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function printSocketReplay(result: SocketReplayResult): void {
  const mb = (value: number) => `${value.toFixed(0)} MiB`;
  console.log(
    `  server RSS before: ${mb(result.baselineRssMb)}; replay of the session: ${mb(result.replayMb)}`,
  );
  console.log(
    `  ${CLIENTS} clients reading ${CLIENT_BYTES_PER_SECOND / MiB} MiB/s each from seq 0: peak RSS +${mb(result.peakRssGrowthMb)}, ` +
      `${mb(result.receivedMb)} delivered in ${result.seconds.toFixed(1)} s ` +
      `(${(result.receivedMb / result.seconds).toFixed(0)} MiB/s); ${result.completed} got it all, ${result.dropped} dropped`,
  );
}

/** Sends the message that streams the story and resolves with every event once the turn is over. */
async function storyTurn(url: string, sessionId: string): Promise<SessionEvent[]> {
  const socket = io(url, { transports: ["websocket"], reconnection: false });
  const events: SessionEvent[] = [];
  const done = new Promise<void>((resolve) => {
    socket.onAny((_name: string, event: SessionEvent) => {
      events.push(event);
      if (event.type === "session:turn:completed") resolve();
    });
  });
  await socket.timeout(10_000).emitWithAck("session:join", { sessionId, afterSeq: 0 });
  await fetch(`${url}/sessions/${sessionId}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ content: "Tell the long story" }),
  });
  await Promise.race([
    done,
    delay(300_000).then(() => {
      throw new Error("The story turn did not end in 5 minutes");
    }),
  ]);
  // Events after the turn (status, usage) belong to the replay too.
  await delay(2000);
  socket.close();
  return events;
}

/**
 * One client that joins from seq 0 and reads its socket at
 * `CLIENT_BYTES_PER_SECOND` (pausing its TCP socket after each chunk) until
 * it has every event up to `lastSeq` or the run ends.
 */
async function slowReplay(
  url: string,
  sessionId: string,
  lastSeq: number,
): Promise<{ bytes: number; completed: boolean; dropped: boolean }> {
  const socket: Socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const tcp = (socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
  tcp.on("data", (chunk: Buffer) => {
    tcp.pause();
    setTimeout(() => tcp.resume(), (chunk.byteLength / CLIENT_BYTES_PER_SECOND) * 1000);
  });
  let seq = 0;
  let dropped = false;
  socket.on("disconnect", (reason) => {
    dropped = reason !== "io client disconnect";
  });
  socket.onAny((_name: string, event: SessionEvent) => {
    if (typeof event.seq === "number") seq = Math.max(seq, event.seq);
  });
  socket.emit("session:join", { sessionId, afterSeq: 0 }, (_ack: JoinAck) => undefined);
  const deadline = Date.now() + RUN_MS;
  while (seq < lastSeq && !dropped && Date.now() < deadline) await delay(100);
  const bytes = tcp.bytesRead;
  socket.close();
  return { bytes, completed: seq >= lastSeq, dropped };
}

if (import.meta.url === `file://${process.argv[1]}`) printSocketReplay(await measureSocketReplay());
