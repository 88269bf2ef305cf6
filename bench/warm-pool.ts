import { chmod, mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { startMockModel } from "@agent-runtime/mock-model";
import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { io } from "socket.io-client";
import { startServeProcess } from "./server-process.js";
import { formatSummary, type Summary, summarize } from "./stats.js";

export interface WarmPoolResult {
  readonly runs: number;
  /** Create + first message → first delta, without a pool (every start cold). */
  readonly coldMs: Summary;
  /** The same with `--warm-pool 1`, each run taking a pooled agent (the pool refilled between runs). */
  readonly pooledMs: Summary;
  /** With the pool: create + first message → the agent's model request (the rest is the model's first chunk and its way back). */
  readonly pooledToModelMs: Summary;
  /** The machine's 1-minute load average when the runs ended (the figures grow with it). */
  readonly loadAverage: number;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Create + first message → first delta on `agent-runtime serve` in its own
 * process, real local sandboxes and Claude Code against the mock model:
 * `runs` sessions without a pool, then `runs` with `--warm-pool 1` (the
 * `bench` profile listed, each run waiting until the pool holds an agent).
 */
export async function measureWarmPool(runs: number): Promise<WarmPoolResult> {
  const cold = await firstDeltas(runs, {});
  const pooled = await firstDeltas(runs, {
    AGENT_RUNTIME_WARM_POOL: "1",
    AGENT_RUNTIME_WARM_POOL_PROFILES: "bench",
  });
  return {
    runs,
    coldMs: summarize(cold.firstDelta),
    pooledMs: summarize(pooled.firstDelta),
    pooledToModelMs: summarize(pooled.toModel),
    loadAverage: loadavg()[0]!,
  };
}

async function firstDeltas(
  runs: number,
  env: Record<string, string>,
): Promise<{ firstDelta: number[]; toModel: number[] }> {
  const pooled = env.AGENT_RUNTIME_WARM_POOL !== undefined;
  const dataDir = await mkdtemp(join(tmpdir(), "bench-warm-pool-"));
  await chmod(dataDir, 0o711);
  const modelRequests: number[] = [];
  const mock = await startMockModel({
    script: { rules: [{ match: { prompt: "Hello" }, reply: { steps: ["Hi there, how can I help?"] } }] },
    onRequest: (request) => {
      if (request.source === "script") modelRequests.push(request.timestamp);
    },
  });
  const server = await startServeProcess(dataDir, mock.url, env);
  const socket = io(server.url, { transports: ["websocket"], reconnection: false, forceNew: true });
  const firstDelta = new Map<string, number>();
  socket.onAny((_name: string, event: SessionEvent) => {
    if (event.type === "session:block:delta" && !firstDelta.has(event.sessionId))
      firstDelta.set(event.sessionId, now());
  });
  const post = async (path: string, body: unknown) =>
    (await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then((response) => response.json())) as { sessionId: string };
  /** Agents the pool holds ready, from `/metrics`. */
  const poolSize = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("agent_runtime_warm_pool_agents "));
    return Number(line?.split(" ")[1] ?? 0);
  };
  const figures: number[] = [];
  const toModel: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      if (pooled) {
        const deadline = Date.now() + 120_000;
        while ((await poolSize()) < 1) {
          if (Date.now() > deadline) throw new Error("the warm pool did not fill");
          await delay(100);
        }
      }
      // Let the previous run's starts and syncs settle: each figure is one start on a quiet machine.
      await delay(2_000);
      const started = now();
      const { sessionId } = await post("/sessions", { agentProfileRef: "bench" });
      const ack = (await socket.timeout(30_000).emitWithAck("session:join", { sessionId })) as JoinAck;
      if (!ack.ok) throw new Error(`join failed: ${ack.error.message}`);
      await post(`/sessions/${sessionId}/messages`, { content: "Hello" });
      const deadline = Date.now() + 120_000;
      while (!firstDelta.has(sessionId)) {
        if (Date.now() > deadline) throw new Error("no first delta");
        await delay(2);
      }
      figures.push(firstDelta.get(sessionId)! - started);
      const request = modelRequests.find((at) => at >= started);
      if (request !== undefined) toModel.push(request - started);
    }
    return { firstDelta: figures, toModel };
  } finally {
    socket.close();
    await server.stop();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function printWarmPool(result: WarmPoolResult): void {
  console.log(`  create + first message → first delta, ${result.runs} sessions each`);
  console.log(`    no pool:       ${formatSummary(result.coldMs)}`);
  console.log(`    --warm-pool 1: ${formatSummary(result.pooledMs)}`);
  console.log(`      of which → the agent's model request: ${formatSummary(result.pooledToModelMs)}`);
  console.log(`    load average at the end: ${result.loadAverage.toFixed(2)} (${cpus().length} cores)`);
}
