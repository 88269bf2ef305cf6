import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type ChunkEvent, type RecordedRequest, startMockModel } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import {
  createAgentRuntime,
  createAgentServer,
  createLocalSandboxProvider,
  createSqlitePersistenceAdapter,
} from "@agent-runtime/server";
import { pino } from "pino";
import { io } from "socket.io-client";
import { type Summary, summarize } from "./stats.js";

const now = () => performance.timeOrigin + performance.now();

export interface TurnLatencyResult {
  readonly architecture: string;
  /** POST of the first message → first model request (sandbox + agent start). */
  readonly coldStartMs: number;
  /** POST of a message, agent already alive → its model request reaches the mock model. */
  readonly warmTurnOverheadMs: Summary;
  /** Mock model writes a text delta → the socket client receives it. */
  readonly perDeltaLatencyMs: Summary;
}

/**
 * Runs `turns` warm turns through the whole stack (REST → session → runner →
 * agent → mock model → parser → event log → socket.io client) and measures
 * where the runtime adds time.
 */
export async function measureTurnLatency(
  architecture: "claude-agent-sdk" | "opencode",
  turns: number,
): Promise<TurnLatencyResult> {
  const requests: RecordedRequest[] = [];
  const chunks: ChunkEvent[] = [];
  const mock = await startMockModel({
    script: {
      rules: [
        {
          match: { prompt: "bench" },
          reply: {
            steps: ["The quick brown fox jumps over the lazy dog. ".repeat(6)],
            chunkSize: 8,
            chunkDelayMs: 2,
          },
        },
      ],
    },
    onRequest: (request) => {
      if (request.source === "script") requests.push(request);
    },
    onChunk: (chunk) => {
      if (chunk.blockType === "text") chunks.push(chunk);
    },
  });
  const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-bench-"));
  const runtime = createAgentRuntime({
    persistence: createSqlitePersistenceAdapter({ filename: join(dataDir, "bench.sqlite") }),
    sandbox: createLocalSandboxProvider({ rootDir: join(dataDir, "sandboxes") }),
    agents: [{ id: "bench", name: "Bench" }],
    model: { baseUrl: mock.url, apiKey: "bench-key" },
    logger: pino({ level: "error" }),
    idleTimeoutMs: 0,
  });
  const server = await createAgentServer({ runtime });
  const url = await server.listen({ port: 0 });
  const socket = io(url, { transports: ["websocket"] });
  const deltas: Array<{ at: number; event: SessionEvent }> = [];
  let onTurnEnd: (() => void) | undefined;
  socket.onAny((name: string, event: SessionEvent) => {
    const at = now();
    if (name === "session:block:delta") deltas.push({ at, event });
    if (name === "session:turn:completed") onTurnEnd?.();
  });

  try {
    const created = (await (
      await fetch(`${url}/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentProfileRef: "bench", architecture }),
      })
    ).json()) as { sessionId: string };
    await socket.timeout(5_000).emitWithAck("session:join", { sessionId: created.sessionId });

    const turn = async (index: number) => {
      const ended = new Promise<void>((resolve) => {
        onTurnEnd = resolve;
      });
      const requestsBefore = requests.length;
      const chunksBefore = chunks.length;
      const deltasBefore = deltas.length;
      const sentAt = now();
      await fetch(`${url}/sessions/${created.sessionId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content: `bench ${index}` }),
      });
      await ended;
      const request = requests[requestsBefore];
      if (!request) throw new Error(`turn ${index}: no model request arrived`);
      const turnChunks = chunks.slice(chunksBefore).filter((c) => c.requestId === request.id);
      const turnDeltas = deltas.slice(deltasBefore);
      const text = (list: Array<{ text?: string; delta?: string }>) =>
        list.map((d) => d.text ?? d.delta).join("");
      const received = turnDeltas.map((d) => ({
        at: d.at,
        delta: d.event.type === "session:block:delta" ? d.event.delta : "",
      }));
      if (text(turnChunks) !== text(received))
        throw new Error(`turn ${index}: deltas differ from the model's chunks`);
      const latencies =
        turnChunks.length === received.length ? turnChunks.map((c, i) => received[i]!.at - c.timestamp) : [];
      return { overhead: request.timestamp - sentAt, latencies };
    };

    const cold = await turn(0);
    const overheads: number[] = [];
    const latencies: number[] = [];
    for (let i = 1; i <= turns; i++) {
      const result = await turn(i);
      overheads.push(result.overhead);
      latencies.push(...result.latencies);
    }
    return {
      architecture,
      coldStartMs: cold.overhead,
      warmTurnOverheadMs: summarize(overheads),
      perDeltaLatencyMs: summarize(latencies),
    };
  } finally {
    socket.close();
    await server.close();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
