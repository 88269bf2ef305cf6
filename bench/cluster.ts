import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { type ChunkEvent, startMockModel } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { Redis } from "ioredis";
import pg from "pg";
import { io, type Socket } from "socket.io-client";
import { type ServeProcess, startServeProcess } from "./server-process.js";
import { formatSummary, type Summary, summarize } from "./stats.js";

const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
/** Short, so each takeover takes seconds; the default is 15 s. */
const LEASE_TTL_SECONDS = 5;

export interface ClusterBenchResult {
  /** Model writes a delta → a socket client receives it: one node without a cluster. */
  readonly singleNodeDeltaMs: Summary;
  /** The same in a cluster, for a client on the session's own node, and on another node. */
  readonly ownerNodeDeltaMs: Summary;
  readonly otherNodeDeltaMs: Summary;
  /** `kill -9` of the owner mid-turn → `SERVER_RESTARTED` reaches a client on another node. */
  readonly takeoverMs: Summary;
  readonly leaseTtlSeconds: number;
  /** Turns completed per second with `sessions` sessions taking messages at once, on 1 node and 3. */
  readonly throughput: { readonly sessions: number; readonly oneNode: number; readonly threeNodes: number };
}

interface Node {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  serve: ServeProcess;
}

/**
 * Cluster mode on this machine: three `serve` processes (from the build)
 * on one PostgreSQL database and one Redis, local sandboxes, the real
 * Claude Code against a mock model streaming paced deltas.
 */
export async function measureCluster(options: { turns: number; takeovers: number; sessions: number }) {
  const chunks: ChunkEvent[] = [];
  const mock = await startMockModel({
    script: {
      rules: [
        {
          match: { prompt: "stream" },
          reply: { steps: ["The quick brown fox jumps over the lazy dog. ".repeat(20)], chunkSize: 8, chunkDelayMs: 5 },
        },
        {
          match: { prompt: "long" },
          reply: { steps: [`Once ${"and then ".repeat(2000)}the end.`], chunkSize: 4, chunkDelayMs: 10 },
        },
        { match: { prompt: "short" }, reply: "Done." },
      ],
    },
    onChunk: (chunk) => {
      if (chunk.blockType === "text") chunks.push(chunk);
    },
  });
  const database = `bench_cluster_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${database}`);
  await admin.query(`create database ${database}`);
  const databaseUrl = new URL(POSTGRES_URL);
  databaseUrl.pathname = `/${database}`;
  const keyPrefix = `agent-runtime-bench:${process.pid}:`;
  const dirs: string[] = [];
  const started: Node[] = [];

  const startNode = async (name: string, cluster: boolean, port?: number, dataDir?: string): Promise<Node> => {
    const nodePort = port ?? (await freePort());
    const dir = dataDir ?? (await mkdtemp(join(tmpdir(), `agent-runtime-bench-${name}-`)));
    if (!dataDir) {
      dirs.push(dir);
      await chmod(dir, 0o711);
    }
    const args = ["--port", String(nodePort)];
    if (cluster)
      args.push(
        ...["--database", databaseUrl.toString(), "--redis-url", REDIS_URL, "--cluster-key-prefix", keyPrefix],
        ...["--node-id", name, "--lease-ttl", String(LEASE_TTL_SECONDS)],
      );
    const serve = await startServeProcess(dir, mock.url, {}, args);
    const node = { name, port: nodePort, dataDir: dir, serve };
    started.push(node);
    return node;
  };

  try {
    // Delivery: one node alone, then three in a cluster (clients on the owner and on another node).
    const single = await startNode("single", false);
    const singleNodeDeltaMs = await deliveryLatency([single], chunks, options.turns);
    await single.serve.stop();
    const nodes = [await startNode("n1", true), await startNode("n2", true), await startNode("n3", true)];
    const [ownerNodeDeltaMs, otherNodeDeltaMs] = await deliveryLatencyAcross(nodes, chunks, options.turns);

    // Takeover after kill -9, a few times: the owner is killed mid-turn and started again after.
    const takeovers: number[] = [];
    for (let round = 0; round < options.takeovers; round++) {
      const owner = nodes[round % 3]!;
      const watcherNode = nodes[(round + 1) % 3]!;
      const sessionId = await createSession(owner.serve.url);
      const socket = await joined(watcherNode.serve.url, sessionId);
      const events: SessionEvent[] = [];
      socket.onAny((_name, event: SessionEvent) => events.push(event));
      await send(owner.serve.url, sessionId, "long");
      await waitFor(() => events.some((event) => event.type === "session:block:delta"), 60_000);
      const killedAt = performance.now();
      owner.serve.process.kill("SIGKILL");
      await new Promise((resolve) => owner.serve.process.once("exit", resolve));
      await waitFor(
        () =>
          events.some(
            (event) =>
              event.type === "session:block:complete" &&
              event.block.type === "error" &&
              event.block.code === "SERVER_RESTARTED",
          ),
        (LEASE_TTL_SECONDS + 30) * 1000,
      );
      takeovers.push(performance.now() - killedAt);
      socket.close();
      owner.serve = (await startNode(owner.name, true, owner.port, owner.dataDir)).serve;
    }

    // Throughput: the same sessions and messages through one node, then spread over three.
    const oneNode = await turnsPerSecond([nodes[0]!], options.sessions);
    const threeNodes = await turnsPerSecond(nodes, options.sessions);
    return {
      singleNodeDeltaMs,
      ownerNodeDeltaMs,
      otherNodeDeltaMs,
      takeoverMs: summarize(takeovers),
      leaseTtlSeconds: LEASE_TTL_SECONDS,
      throughput: { sessions: options.sessions, oneNode, threeNodes },
    } satisfies ClusterBenchResult;
  } finally {
    await Promise.allSettled(started.map((node) => node.serve.stop()));
    await mock.close();
    await admin.query(`drop database if exists ${database} with (force)`).catch(() => undefined);
    await admin.end();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await Promise.allSettled(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

export function printCluster(result: ClusterBenchResult): void {
  console.log(`  delta delivery, one node (no cluster):        ${formatSummary(result.singleNodeDeltaMs)}`);
  console.log(`  delta delivery, cluster, client on the owner: ${formatSummary(result.ownerNodeDeltaMs)}`);
  console.log(`  delta delivery, cluster, client elsewhere:    ${formatSummary(result.otherNodeDeltaMs)}`);
  console.log(
    `  takeover after kill -9 (lease TTL ${result.leaseTtlSeconds} s) → SERVER_RESTARTED on another node: ${formatSummary(result.takeoverMs)}`,
  );
  const { sessions, oneNode, threeNodes } = result.throughput;
  console.log(
    `  throughput, ${sessions} sessions × 2 turns: 1 node ${oneNode.toFixed(2)} turns/s, 3 nodes ${threeNodes.toFixed(2)} turns/s (${(threeNodes / oneNode).toFixed(2)}×)`,
  );
}

/** Model writes chunk i of a turn → the i-th delta of that turn reaches a client on `nodes[0]`. */
async function deliveryLatency(nodes: Node[], chunks: ChunkEvent[], turns: number): Promise<Summary> {
  const [owner] = await deliveryLatencyAcross([nodes[0]!, nodes[0]!], chunks, turns);
  return owner;
}

/** The same for a client on the owner (`nodes[0]`) and one on `nodes[1]`, over `turns` warm turns. */
async function deliveryLatencyAcross(
  nodes: Node[],
  chunks: ChunkEvent[],
  turns: number,
): Promise<[Summary, Summary]> {
  const sessionId = await createSession(nodes[0]!.serve.url);
  const clients = [await joined(nodes[0]!.serve.url, sessionId), await joined(nodes[1]!.serve.url, sessionId)];
  const arrivals: Array<Array<{ at: number; event: SessionEvent }>> = [[], []];
  clients.forEach((client, index) =>
    client.onAny((_name, event: SessionEvent) => arrivals[index]!.push({ at: performance.timeOrigin + performance.now(), event })),
  );
  const latencies: [number[], number[]] = [[], []];
  for (let turn = 0; turn <= turns; turn++) {
    const from = chunks.length;
    const seen = arrivals.map((list) => list.length);
    await send(nodes[0]!.serve.url, sessionId, "stream");
    await waitFor(
      () =>
        arrivals.every((list, index) =>
          list.slice(seen[index]).some(({ event }) => event.type === "session:turn:completed"),
        ),
      60_000,
    );
    if (turn === 0) continue; // the cold start
    const written = chunks.slice(from);
    for (const index of [0, 1]) {
      const deltas = arrivals[index]!.slice(seen[index]).filter(({ event }) => event.type === "session:block:delta");
      if (deltas.length !== written.length) continue; // unpaired: skipped rather than guessed
      for (const [i, { at }] of deltas.entries()) latencies[index]!.push(at - written[i]!.timestamp);
    }
  }
  for (const client of clients) client.close();
  return [summarize(latencies[0]), summarize(latencies[1])];
}

/** `sessions` sessions, each sent two messages one after the other, created and driven round robin over `nodes`. */
async function turnsPerSecond(nodes: Node[], sessions: number): Promise<number> {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, index) => {
      const url = nodes[index % nodes.length]!.serve.url;
      const sessionId = await createSession(url);
      const socket = await joined(url, sessionId);
      let completed = 0;
      socket.on("session:turn:completed", () => {
        completed += 1;
      });
      for (let turn = 1; turn <= 2; turn++) {
        await send(url, sessionId, "short");
        await waitFor(() => completed >= turn, 180_000);
      }
      socket.close();
    }),
  );
  return (sessions * 2) / ((performance.now() - start) / 1000);
}

async function createSession(url: string): Promise<string> {
  const response = await fetch(`${url}/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ agentProfileRef: "bench" }),
  });
  if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { sessionId: string }).sessionId;
}

async function send(url: string, sessionId: string, content: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    if (response.status === 202) return;
    if (response.status !== 503 || attempt > 100) throw new Error(`send: ${response.status} ${await response.text()}`);
    await delay(200);
  }
}

async function joined(url: string, sessionId: string): Promise<Socket> {
  const socket = io(url, { transports: ["websocket"], reconnection: false });
  const ack = (await socket.timeout(10_000).emitWithAck("session:join", { sessionId })) as { ok: boolean };
  if (!ack.ok) throw new Error(`join: ${JSON.stringify(ack)}`);
  return socket;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await delay(20);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
