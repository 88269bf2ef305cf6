import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { type ChunkEvent, type RecordedRequest, startMockModel } from "@agent-runtime/mock-model";
import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { io } from "socket.io-client";
import { startServeProcess } from "./server-process.js";
import { formatSummary, type Summary, summarize } from "./stats.js";

/** The long answer the watched session streams while the others start: 8 characters every 10 ms, about 34 s. */
const STREAM = { steps: ["A stream that keeps going. ".repeat(1000)], chunkSize: 8, chunkDelayMs: 10 };

export interface ColdStartLoadResult {
  /** Simultaneous first messages (cold starts). */
  readonly coldStarts: number;
  /** `--max-concurrent-starts` of the server; undefined: its default (the machine's cores). */
  readonly maxConcurrentStarts: number | undefined;
  /** Model writes a chunk → the watching socket client has it, for the chunks written while the cold starts ran. */
  readonly deltaLatencyMs: Summary;
  /** `GET /health` round trips while the cold starts ran. */
  readonly healthMs: Summary;
  /** First message → its turn completed, for the cold-started sessions. */
  readonly coldTurnMs: Summary;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Issue 25's concurrency run: a session streams text (a warm Claude Code
 * against the mock model, paced at 100 chunks per second) to a socket client
 * while `coldStarts` other sessions get their first message at once, on
 * `agent-runtime serve` in its own process with real local sandboxes. How
 * late the streaming session's deltas arrive, and how long `/health` takes,
 * while those agents start: admission control (`--max-concurrent-starts`,
 * the cores by default) is what keeps them low.
 */
export async function measureColdStartLoad(
  coldStarts: number,
  maxConcurrentStarts?: number,
): Promise<ColdStartLoadResult> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-cold-load-"));
  await chmod(dataDir, 0o711);
  const requests: RecordedRequest[] = [];
  const chunks: ChunkEvent[] = [];
  const mock = await startMockModel({
    script: {
      rules: [
        { match: { prompt: "Stream" }, reply: STREAM },
        { match: { prompt: "Hello" }, reply: { steps: ["Hi."] } },
      ],
    },
    onRequest: (request) => {
      if (request.source === "script") requests.push(request);
    },
    onChunk: (chunk) => {
      if (chunk.blockType === "text") chunks.push(chunk);
    },
  });
  const server = await startServeProcess(
    dataDir,
    mock.url,
    maxConcurrentStarts === undefined
      ? {}
      : { AGENT_RUNTIME_MAX_CONCURRENT_STARTS: String(maxConcurrentStarts) },
  );
  const post = async (path: string, body: unknown) =>
    (await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then((response) => response.json())) as { sessionId: string };
  const socket = io(server.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  try {
    // The watched session: warmed by one turn, then streaming.
    const { sessionId } = await post("/sessions", { agentProfileRef: "bench" });
    const deltas: { at: number; text: string }[] = [];
    /** Turns completed, by session. */
    const completed = new Map<string, number>();
    const completedTurns = () => completed.get(sessionId) ?? 0;
    socket.onAny((_name: string, event: SessionEvent) => {
      if (event.type === "session:block:delta" && event.sessionId === sessionId)
        deltas.push({ at: now(), text: event.delta });
      if (event.type === "session:turn:completed")
        completed.set(event.sessionId, (completed.get(event.sessionId) ?? 0) + 1);
    });
    const joined = (await socket.timeout(30_000).emitWithAck("session:join", { sessionId })) as JoinAck;
    if (!joined.ok) throw new Error(`join failed: ${joined.error.message}`);
    await post(`/sessions/${sessionId}/messages`, { content: "Hello" });
    while (completedTurns() < 1) await delay(50);
    const streamRequests = requests.length;
    await post(`/sessions/${sessionId}/messages`, { content: "Stream" });
    while (requests.length === streamRequests) await delay(10);
    const streamRequest = requests[streamRequests]!;
    await delay(1_000);

    // The cold starts, all at once, while the stream runs.
    const others = await Promise.all(
      Array.from({ length: coldStarts }, () => post("/sessions", { agentProfileRef: "bench" })),
    );
    for (const { sessionId: id } of others) {
      const ack = (await socket.timeout(30_000).emitWithAck("session:join", { sessionId: id })) as JoinAck;
      if (!ack.ok) throw new Error(`join failed: ${ack.error.message}`);
    }
    const loadStart = now();
    const coldTurns = Promise.all(
      others.map(async ({ sessionId: id }) => {
        const started = now();
        await post(`/sessions/${id}/messages`, { content: "Hello" });
        while ((completed.get(id) ?? 0) < 1) await delay(20);
        return now() - started;
      }),
    );
    const health: number[] = [];
    let loading = true;
    const probing = (async () => {
      while (loading) {
        const started = now();
        await (await fetch(`${server.url}/health`)).arrayBuffer();
        health.push(now() - started);
        await delay(50);
      }
    })();
    const coldTurnMs = await coldTurns;
    loading = false;
    await probing;
    const loadEnd = now();
    while (completedTurns() < 2) await delay(50);

    // Chunks of the stream paired one to one with the deltas after the warm turn's.
    const streamChunks = chunks.filter((chunk) => chunk.requestId === streamRequest.id);
    const streamDeltas = deltas.slice(deltas.length - streamChunks.length);
    if (streamDeltas.map((d) => d.text).join("") !== streamChunks.map((c) => c.text).join(""))
      throw new Error("the deltas differ from the model's chunks");
    const during = streamChunks.flatMap((chunk, index) =>
      chunk.timestamp >= loadStart && chunk.timestamp <= loadEnd
        ? [streamDeltas[index]!.at - chunk.timestamp]
        : [],
    );
    return {
      coldStarts,
      maxConcurrentStarts,
      deltaLatencyMs: summarize(during),
      healthMs: summarize(health),
      coldTurnMs: summarize(coldTurnMs),
    };
  } finally {
    socket.close();
    await server.stop();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function printColdStartLoad(result: ColdStartLoadResult): void {
  const limit = result.maxConcurrentStarts === undefined ? "default" : String(result.maxConcurrentStarts);
  console.log(`  ${result.coldStarts} cold starts, --max-concurrent-starts ${limit}`);
  console.log(`    streaming session, per-delta latency: ${formatSummary(result.deltaLatencyMs)}`);
  console.log(`    /health: ${formatSummary(result.healthMs)}`);
  console.log(`    cold turn (first message → done): ${formatSummary(result.coldTurnMs)}`);
}
