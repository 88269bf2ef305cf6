import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  type ChunkEvent,
  type MockModel,
  type RecordedRequest,
  startMockModel,
} from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import {
  createAgentRuntime,
  createAgentServer,
  createLocalSandboxProvider,
  createSqlitePersistenceAdapter,
} from "@agent-runtime/server";
import { query, type SDKUserMessage } from "@anthropic-ai/claude-agent-sdk";
import { pino } from "pino";
import { io } from "socket.io-client";
import { type Summary, summarize } from "./stats.js";

const now = () => performance.timeOrigin + performance.now();

export interface TurnLatencyResult {
  readonly architecture: string;
  /** First message sent → first model request (runtime: sandbox + runner + agent start; direct: `query()` start). */
  readonly coldStartMs: number;
  /** A message sent to a live agent → its model request reaches the mock model. */
  readonly warmTurnOverheadMs: Summary;
  /** Mock model writes a text delta → the consumer receives it (runtime: a socket.io client; direct: the SDK iterator). */
  readonly perDeltaLatencyMs: Summary;
}

/** One turn as seen by the consumer: when it sent the message, and the text deltas it received. */
interface ObservedTurn {
  readonly sentAt: number;
  readonly deltas: ReadonlyArray<{ at: number; text: string }>;
}

/**
 * The mock model every measurement talks to: one paced text answer, with
 * each script request and each written text chunk recorded.
 */
async function benchModel(): Promise<{ mock: MockModel; requests: RecordedRequest[]; chunks: ChunkEvent[] }> {
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
  return { mock, requests, chunks };
}

/**
 * Runs turn 0 (cold) and `turns` warm turns through `runTurn` and computes
 * the figures from the mock model's records: the model request that answered
 * each turn, and its chunks paired one to one with the deltas received.
 */
async function measureTurns(
  architecture: string,
  turns: number,
  model: { requests: RecordedRequest[]; chunks: ChunkEvent[] },
  runTurn: (content: string) => Promise<ObservedTurn>,
): Promise<TurnLatencyResult> {
  const measure = async (index: number) => {
    const requestsBefore = model.requests.length;
    const chunksBefore = model.chunks.length;
    const observed = await runTurn(`bench ${index}`);
    const request = model.requests[requestsBefore];
    if (!request) throw new Error(`${architecture} turn ${index}: no model request arrived`);
    const turnChunks = model.chunks.slice(chunksBefore).filter((c) => c.requestId === request.id);
    const text = (list: ReadonlyArray<{ text: string }>) => list.map((d) => d.text).join("");
    if (text(turnChunks) !== text(observed.deltas)) {
      throw new Error(`${architecture} turn ${index}: deltas differ from the model's chunks`);
    }
    const latencies =
      turnChunks.length === observed.deltas.length
        ? turnChunks.map((c, i) => observed.deltas[i]!.at - c.timestamp)
        : [];
    return { overhead: request.timestamp - observed.sentAt, latencies };
  };
  const cold = await measure(0);
  const overheads: number[] = [];
  const latencies: number[] = [];
  for (let i = 1; i <= turns; i++) {
    const result = await measure(i);
    overheads.push(result.overhead);
    latencies.push(...result.latencies);
  }
  return {
    architecture,
    coldStartMs: cold.overhead,
    warmTurnOverheadMs: summarize(overheads),
    perDeltaLatencyMs: summarize(latencies),
  };
}

/**
 * Runs turns through the whole stack (REST → session → runner → agent →
 * mock model → parser → event log → socket.io client) and measures where
 * the runtime adds time.
 */
export async function measureTurnLatency(
  architecture: "claude-agent-sdk" | "opencode" | "codex" | "gemini",
  turns: number,
): Promise<TurnLatencyResult> {
  const model = await benchModel();
  const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-bench-"));
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(dataDir, 0o711);
  const runtime = createAgentRuntime({
    persistence: createSqlitePersistenceAdapter({ filename: join(dataDir, "bench.sqlite") }),
    sandbox: createLocalSandboxProvider({
      rootDir: join(dataDir, "sandboxes"),
      // BENCH_SANDBOX_CPUS compares CPU limits; the provider's default otherwise.
      ...(process.env.BENCH_SANDBOX_CPUS ? { limits: { cpus: Number(process.env.BENCH_SANDBOX_CPUS) } } : {}),
    }),
    agents: [{ id: "bench", name: "Bench" }],
    model: { baseUrl: model.mock.url, apiKey: "bench-key" },
    logger: pino({ level: "error" }),
    idleTimeoutMs: 0,
  });
  const server = await createAgentServer({ runtime });
  const url = await server.listen({ port: 0 });
  const socket = io(url, { transports: ["websocket"] });
  let current: { deltas: Array<{ at: number; text: string }>; ended: () => void } | undefined;
  socket.onAny((name: string, event: SessionEvent) => {
    const at = now();
    if (event.type === "session:block:delta") current?.deltas.push({ at, text: event.delta });
    if (name === "session:turn:completed") current?.ended();
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
    return await measureTurns(architecture, turns, model, async (content) => {
      const deltas: Array<{ at: number; text: string }> = [];
      const ended = new Promise<void>((resolve) => {
        current = { deltas, ended: resolve };
      });
      const sentAt = now();
      await fetch(`${url}/sessions/${created.sessionId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content }),
      });
      await ended;
      return { sentAt, deltas };
    });
  } finally {
    socket.close();
    await server.close();
    await model.mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The floor: the Claude Agent SDK called directly in this process (no
 * runtime, no sandbox) against the same mock model, with streaming input and
 * one live Claude Code process for all turns. As root, Claude Code refuses
 * `bypassPermissions`, so it runs in `default` mode with a `canUseTool` that
 * allows (the bench answer uses no tool).
 */
export async function measureDirectSdkLatency(turns: number): Promise<TurnLatencyResult> {
  const model = await benchModel();
  const dir = await mkdtemp(join(tmpdir(), "agent-runtime-bench-direct-"));
  const home = join(dir, "home");
  const workspace = join(dir, "workspace");
  await Promise.all([mkdir(home), mkdir(workspace)]);
  const input = new MessageQueue();
  const q = query({
    prompt: input,
    options: {
      cwd: workspace,
      includePartialMessages: true,
      systemPrompt: { type: "preset", preset: "claude_code" },
      settingSources: ["project"],
      permissionMode: "default",
      canUseTool: async (_tool, toolInput) => ({ behavior: "allow", updatedInput: toolInput }),
      env: {
        ...process.env,
        HOME: home,
        ANTHROPIC_BASE_URL: model.mock.url,
        ANTHROPIC_API_KEY: "bench-key",
        DISABLE_AUTOUPDATER: "1",
        DISABLE_TELEMETRY: "1",
        DISABLE_ERROR_REPORTING: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "1",
      },
    },
  });
  let current: { deltas: Array<{ at: number; text: string }>; ended: () => void } | undefined;
  const consuming = (async () => {
    for await (const message of q) {
      const at = now();
      if (message.type === "stream_event") {
        const event = message.event;
        if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
          current?.deltas.push({ at, text: event.delta.text });
        }
      } else if (message.type === "result") {
        current?.ended();
      }
    }
  })();

  try {
    return await measureTurns("claude-agent-sdk (direct)", turns, model, async (content) => {
      const deltas: Array<{ at: number; text: string }> = [];
      const ended = new Promise<void>((resolve) => {
        current = { deltas, ended: resolve };
      });
      const sentAt = now();
      input.push({ type: "user", message: { role: "user", content }, parent_tool_use_id: null });
      await ended;
      return { sentAt, deltas };
    });
  } finally {
    input.end();
    q.close();
    await consuming.catch(() => undefined);
    await model.mock.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Streaming input for `query()`: messages pushed one at a time, ended once. */
class MessageQueue implements AsyncIterable<SDKUserMessage> {
  private readonly items: SDKUserMessage[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(message: SDKUserMessage): void {
    this.items.push(message);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
