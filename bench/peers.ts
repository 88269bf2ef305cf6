import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type ChunkEvent, type RecordedRequest, startMockModel } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";
import { descendantsOf, type ProcessSample, processesBelow } from "./process-tree.js";
import type { Figure } from "./results.js";
import {
  type AcpConnection,
  installSandboxAgent,
  type PeerDelta,
  SANDBOX_AGENT_VERSION,
  type SandboxAgentServer,
  startSandboxAgent,
} from "./sandbox-agent-peer.js";
import { type ServeProcess, startServeProcess } from "./server-process.js";
import { type Summary, summarize } from "./stats.js";

const now = () => performance.timeOrigin + performance.now();
const MIB = 1024 * 1024;

/** The answer every turn gets: 160 characters in 20 deltas of 8, one every 2 ms. */
const ANSWER = { steps: ["word ".repeat(32)], chunkSize: 8, chunkDelayMs: 2 };

/** What one contestant showed over the run. */
export interface ContestantResult {
  readonly name: string;
  /** Create a session + send its first message → the first text delta at the client, one per run. */
  readonly coldMs: Summary;
  /** A message to a live session → its first text delta, all warm turns. */
  readonly warmMs: Summary;
  /** A message to a live session → its model request reaches the mock model, all warm turns. */
  readonly warmToModelMs: Summary;
  /** Gap between consecutive text deltas at the client, all warm turns. */
  readonly gapMs: Summary;
  /** The model writes a delta → the client has it, all warm turns (where the deltas pair one to one). */
  readonly deltaLatencyMs: Summary;
  /** Deltas per warm turn as the client got them (the model writes 20). */
  readonly deltasPerTurn: Summary;
  /** How the turns that streamed no text ended (left out of the figures). */
  readonly failures: readonly string[];
  readonly memory: MemoryResult;
}

/** The processes of the idle sessions after the runs, from `/proc`. */
export interface MemoryResult {
  readonly sessions: number;
  /** RSS of each session's own processes, MiB. */
  readonly perSessionRssMiB: Summary;
  /** PSS of each session's own processes (shared pages divided among sharers), MiB. */
  readonly perSessionPssMiB: Summary;
  /** Processes all sessions share (sandbox-agent's adapter), RSS MiB, counted once. */
  readonly sharedRssMiB: number;
  /** The server process itself, RSS MiB. */
  readonly serverRssMiB: number;
  /** (Sum of the sessions' RSS + the shared processes) / sessions, MiB. */
  readonly amortizedRssMiB: number;
  /** One session's processes, for a closer look. */
  readonly example: ReadonlyArray<{ argv0: string; rssMiB: number }>;
}

export interface PeersResult {
  readonly runs: number;
  readonly warmTurns: number;
  readonly sandboxAgentVersion: string;
  readonly adapterVersion: string;
  readonly warmPool: boolean;
  readonly contestants: readonly ContestantResult[];
}

/** One turn at the client: when its message went, the text deltas, how it ended (for errors). */
interface Turn {
  readonly startedAt: number;
  readonly deltas: PeerDelta[];
  readonly ending: string;
}

/** A side of the comparison: opens sessions and runs turns on them, timed at the client. */
interface Contestant {
  readonly name: string;
  /** A new session; its first message is sent at once (timed together). */
  cold(content: string): Promise<{ session: string } & Turn>;
  warm(session: string, content: string): Promise<Turn>;
  memory(): MemoryResult;
  stop(): Promise<void>;
}

/**
 * `npm run bench:peers`: Agent Runtime (`agent-runtime serve`, local
 * bubblewrap sandboxes, restricted egress) beside Rivet's sandbox-agent
 * (installed from npm into a temporary folder, its shared Claude Code ACP
 * adapter, no isolation), the same Claude Code binary, the same mock model
 * and answer. Each of `runs` runs, per contestant in alternating order, opens
 * a session with its first message (cold) and sends `warmTurns` more (warm);
 * the sessions then idle and their processes are read. With `serve
 * --warm-pool` available, a third contestant runs with a pool of one.
 */
export async function measurePeers(options: { runs: number; warmTurns: number }): Promise<PeersResult> {
  const root = await mkdtemp(join(tmpdir(), "bench-peers-"));
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(root, 0o711);
  const requests: RecordedRequest[] = [];
  const chunks: ChunkEvent[] = [];
  const mock = await startMockModel({
    script: { rules: [{ match: { prompt: "bench" }, reply: ANSWER }] },
    onRequest: (request) => {
      if (request.source === "script") requests.push(request);
    },
    onChunk: (chunk) => {
      if (chunk.blockType === "text") chunks.push(chunk);
    },
  });
  const install = await installSandboxAgent(
    process.env.BENCH_PEERS_INSTALL_DIR ?? join(root, "sandbox-agent-install"),
  );
  const warmPool = await serveHasWarmPool();
  const contestants: Contestant[] = [];
  try {
    contestants.push(await agentRuntime("Agent Runtime", join(root, "runtime"), mock.url, []));
    if (warmPool) {
      contestants.push(
        await agentRuntime("Agent Runtime, warm pool", join(root, "runtime-pool"), mock.url, [
          "--warm-pool",
          "1",
          "--warm-pool-profiles",
          "bench",
        ]),
      );
    }
    contestants.push(await sandboxAgent(join(root, "sandbox-agent"), mock.url, install));

    const samples = new Map<
      Contestant,
      {
        cold: number[];
        warm: number[];
        toModel: number[];
        gaps: number[];
        latency: number[];
        counts: number[];
        failures: string[];
      }
    >();
    for (const contestant of contestants)
      samples.set(contestant, {
        cold: [],
        warm: [],
        toModel: [],
        gaps: [],
        latency: [],
        counts: [],
        failures: [],
      });
    // One unmeasured session each first: disk caches warm alike, and a pool knows the profile is in use.
    for (const contestant of contestants) await contestant.cold("bench warm-up");
    if (warmPool) await delay(3_000);

    for (let run = 0; run < options.runs; run++) {
      const order = run % 2 === 0 ? contestants : [...contestants].reverse();
      for (const contestant of order) {
        const sample = samples.get(contestant)!;
        const cold = await contestant.cold(`bench cold ${run}`);
        if (!cold.deltas[0]) {
          sample.failures.push(cold.ending);
          continue;
        }
        sample.cold.push(cold.deltas[0].at - cold.startedAt);
        for (let turn = 0; turn < options.warmTurns; turn++) {
          const requestsBefore = requests.length;
          const chunksBefore = chunks.length;
          const warm = await contestant.warm(cold.session, `bench warm ${run}.${turn}`);
          if (!warm.deltas[0]) {
            sample.failures.push(warm.ending);
            continue;
          }
          sample.warm.push(warm.deltas[0].at - warm.startedAt);
          sample.counts.push(warm.deltas.length);
          for (let i = 1; i < warm.deltas.length; i++)
            sample.gaps.push(warm.deltas[i]!.at - warm.deltas[i - 1]!.at);
          const request = requests[requestsBefore];
          if (request) sample.toModel.push(request.timestamp - warm.startedAt);
          const written = chunks.slice(chunksBefore).filter((chunk) => chunk.requestId === request?.id);
          const text = (list: ReadonlyArray<{ text: string }>) => list.map((item) => item.text).join("");
          if (text(written) !== text(warm.deltas)) {
            throw new Error(
              `${contestant.name}: the deltas differ from what the model wrote: ${JSON.stringify(text(warm.deltas))} ≠ ${JSON.stringify(text(written))}`,
            );
          }
          if (written.length === warm.deltas.length) {
            sample.latency.push(...written.map((chunk, i) => warm.deltas[i]!.at - chunk.timestamp));
          }
        }
      }
      // Pools refill in the background between sessions, as they would between users.
      if (warmPool) await delay(3_000);
    }
    await delay(2_000);
    return {
      runs: options.runs,
      warmTurns: options.warmTurns,
      sandboxAgentVersion: SANDBOX_AGENT_VERSION,
      adapterVersion: install.adapterVersion,
      warmPool,
      contestants: contestants.map((contestant) => {
        const sample = samples.get(contestant)!;
        return {
          name: contestant.name,
          coldMs: summarize(sample.cold),
          warmMs: summarize(sample.warm),
          warmToModelMs: summarize(sample.toModel),
          gapMs: summarize(sample.gaps),
          deltaLatencyMs: summarize(sample.latency),
          deltasPerTurn: summarize(sample.counts),
          failures: sample.failures,
          memory: contestant.memory(),
        };
      }),
    };
  } finally {
    for (const contestant of contestants) await contestant.stop().catch(() => undefined);
    await mock.close();
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function serveHasWarmPool(): Promise<boolean> {
  const cli = fileURLToPath(new URL("../packages/server/dist/cli/main.js", import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [cli, "serve", "--help"]);
  return stdout.includes("--warm-pool");
}

/** Agent Runtime: `agent-runtime serve` in its own process, local sandboxes, a socket.io client per session. */
async function agentRuntime(
  name: string,
  dataDir: string,
  modelUrl: string,
  args: readonly string[],
): Promise<Contestant> {
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o711);
  const server: ServeProcess = await startServeProcess(
    dataDir,
    modelUrl,
    // Many sessions from one bench client: lift the per-caller socket limits.
    { AGENT_RUNTIME_SOCKET_EVENTS_PER_SECOND: "0", AGENT_RUNTIME_RATE_LIMIT_PER_IP: "0" },
    args,
  );
  const sockets = new Map<string, Socket>();
  let current: { session: string; deltas: PeerDelta[]; ended: (how: string) => void } | undefined;
  const send = async (session: string, content: string) => {
    const deltas: PeerDelta[] = [];
    const ended = new Promise<string>((resolve) => {
      current = { session, deltas, ended: resolve };
    });
    const response = await fetch(`${server.url}/sessions/${session}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content }),
    });
    if (response.status !== 202) throw new Error(`${name}: message refused (${response.status})`);
    return { deltas, ending: await ended };
  };
  return {
    name,
    async cold(content) {
      const startedAt = now();
      const created = await fetch(`${server.url}/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentProfileRef: "bench", architecture: "claude-agent-sdk" }),
      });
      const { sessionId } = (await created.json()) as { sessionId: string };
      const socket = io(server.url, { transports: ["websocket"], forceNew: true });
      socket.onAny((event: string, payload: SessionEvent) => {
        if (payload.sessionId !== current?.session) return;
        if (payload.type === "session:block:delta") current.deltas.push({ at: now(), text: payload.delta });
        if (event === "session:turn:completed") current.ended(JSON.stringify(payload).slice(0, 300));
      });
      await socket.timeout(10_000).emitWithAck("session:join", { sessionId });
      sockets.set(sessionId, socket);
      return { session: sessionId, startedAt, ...(await send(sessionId, content)) };
    },
    async warm(session, content) {
      const startedAt = now();
      return { startedAt, ...(await send(session, content)) };
    },
    memory() {
      const all = descendantsOf(server.process.pid!);
      const sandboxes = all.filter(
        (process) =>
          isBwrap(process) && !all.some((parent) => parent.pid === process.ppid && isBwrap(parent)),
      );
      const trees = sandboxes.map((sandbox) => [sandbox, ...processesBelow(sandbox.pid, all)]);
      const inTrees = new Set(trees.flat());
      const shared = all.filter((process) => !inTrees.has(process));
      return memoryOf(trees, shared, server.process.pid!);
    },
    async stop() {
      for (const socket of sockets.values()) socket.close();
      await server.stop();
    },
  };
}

/** sandbox-agent: its server, one shared adapter (as its SDK keeps one live connection per agent). */
async function sandboxAgent(
  dataDir: string,
  modelUrl: string,
  install: Awaited<ReturnType<typeof installSandboxAgent>>,
): Promise<Contestant> {
  await mkdir(join(dataDir, "workspaces"), { recursive: true });
  const claudeExecutable = join(
    dirname(createRequire(import.meta.url).resolve("@anthropic-ai/claude-agent-sdk-linux-x64/package.json")),
    "claude",
  );
  const server: SandboxAgentServer = await startSandboxAgent({
    install,
    dataDir,
    modelUrl,
    claudeExecutable,
    now,
  });
  const connection: AcpConnection = await server.connect();
  let sessions = 0;
  const prompt = async (session: string, content: string) => {
    const deltas: PeerDelta[] = [];
    const ending = await connection.prompt(session, content, (delta) => deltas.push(delta));
    return { deltas, ending };
  };
  return {
    name: `sandbox-agent ${SANDBOX_AGENT_VERSION}`,
    async cold(content) {
      // Each session its own working directory, as each of ours has its own workspace.
      const cwd = join(dataDir, "workspaces", String(++sessions));
      await mkdir(cwd);
      const startedAt = now();
      const session = await connection.newSession(cwd);
      return { session, startedAt, ...(await prompt(session, content)) };
    },
    async warm(session, content) {
      const startedAt = now();
      return { startedAt, ...(await prompt(session, content)) };
    },
    memory() {
      const all = descendantsOf(server.process.pid!);
      const adapter = all.find((process) => process.ppid === server.process.pid);
      if (!adapter) throw new Error("sandbox-agent: no adapter process");
      const trees = all
        .filter((process) => process.ppid === adapter.pid)
        .map((session) => [session, ...processesBelow(session.pid, all)]);
      const inTrees = new Set(trees.flat());
      return memoryOf(
        trees,
        all.filter((process) => !inTrees.has(process)),
        server.process.pid!,
      );
    },
    async stop() {
      connection.close();
      await server.stop();
    },
  };
}

function memoryOf(trees: ProcessSample[][], shared: ProcessSample[], serverPid: number): MemoryResult {
  const rss = (list: ProcessSample[]) => list.reduce((sum, process) => sum + process.rssBytes, 0) / MIB;
  const pss = (list: ProcessSample[]) => list.reduce((sum, process) => sum + process.pssBytes, 0) / MIB;
  const server = descendantsOf(process.pid).find((process) => process.pid === serverPid);
  const sharedRss = rss(shared);
  return {
    sessions: trees.length,
    perSessionRssMiB: summarize(trees.map(rss)),
    perSessionPssMiB: summarize(trees.map(pss)),
    sharedRssMiB: sharedRss,
    serverRssMiB: server ? server.rssBytes / MIB : Number.NaN,
    amortizedRssMiB:
      (trees.reduce((sum, tree) => sum + rss(tree), 0) + sharedRss) / Math.max(1, trees.length),
    example: (trees[0] ?? []).map((process) => ({
      argv0: process.argv.slice(0, 2).join(" ").slice(0, 90),
      rssMiB: process.rssBytes / MIB,
    })),
  };
}

function isBwrap(process: ProcessSample): boolean {
  return /(^|\/)bwrap$/.test(process.argv[0] ?? "");
}

/** The side-by-side table, and what is ahead of what. */
export function printPeers(result: PeersResult): void {
  const { contestants } = result;
  const header = `| | ${contestants.map((c) => c.name).join(" | ")} |`;
  console.log(
    `\n${result.runs} runs (alternating order), ${result.warmTurns} warm turns each; sandbox-agent ${result.sandboxAgentVersion} with claude-agent-acp ${result.adapterVersion}; medians${result.warmPool ? "" : "; serve has no --warm-pool"}`,
  );
  console.log(header);
  console.log(`|---|${contestants.map(() => "---").join("|")}|`);
  const row = (label: string, cell: (c: ContestantResult) => string) =>
    console.log(`| ${label} | ${contestants.map(cell).join(" | ")} |`);
  row("cold: create + first message → first delta", (c) => `${c.coldMs.median.toFixed(0)} ms`);
  row("warm: next message → first delta", (c) => `${c.warmMs.median.toFixed(1)} ms`);
  row("warm: next message → model request", (c) => `${c.warmToModelMs.median.toFixed(1)} ms`);
  row("per-delta gap, median / p99", (c) => `${c.gapMs.median.toFixed(2)} / ${c.gapMs.p99.toFixed(2)} ms`);
  row(
    "model writes delta → client, median / p99",
    (c) => `${c.deltaLatencyMs.median.toFixed(2)} / ${c.deltaLatencyMs.p99.toFixed(2)} ms`,
  );
  row("deltas per turn at the client (model: 20)", (c) => c.deltasPerTurn.median.toFixed(0));
  row("turns that streamed no text (left out)", (c) => String(c.failures.length));
  row(
    "memory per idle session, RSS (PSS)",
    (c) =>
      `${c.memory.perSessionRssMiB.median.toFixed(0)} MiB (${c.memory.perSessionPssMiB.median.toFixed(0)})`,
  );
  row("shared processes, RSS once", (c) => `${c.memory.sharedRssMiB.toFixed(0)} MiB`);
  row(
    `per session with the shared part divided (${contestants[0]?.memory.sessions ?? 0} idle sessions)`,
    (c) => `${c.memory.amortizedRssMiB.toFixed(0)} MiB`,
  );
  row("server process RSS", (c) => `${c.memory.serverRssMiB.toFixed(0)} MiB`);
  for (const contestant of contestants) {
    console.log(
      `\n  ${contestant.name}: cold min ${contestant.coldMs.min.toFixed(0)}, max ${contestant.coldMs.max.toFixed(0)} ms; warm min ${contestant.warmMs.min.toFixed(1)}, max ${contestant.warmMs.max.toFixed(1)} ms; one idle session's processes:`,
    );
    for (const failure of contestant.failures) console.log(`    a turn without text: ${failure}`);
    for (const process of contestant.memory.example) {
      console.log(`    ${process.rssMiB.toFixed(1).padStart(7)} MiB  ${process.argv0}`);
    }
  }
}

/** The figures `saveAndCompare` keeps, by contestant. */
export function peersFigures(result: PeersResult): Record<string, Figure> {
  const figures: Record<string, Figure> = {};
  for (const c of result.contestants) {
    figures[`${c.name}: cold`] = { value: c.coldMs.median, unit: "ms" };
    figures[`${c.name}: warm`] = { value: c.warmMs.median, unit: "ms" };
    figures[`${c.name}: warm, message → model request`] = { value: c.warmToModelMs.median, unit: "ms" };
    figures[`${c.name}: per-delta gap p50`] = { value: c.gapMs.median, unit: "ms" };
    figures[`${c.name}: per-delta gap p99`] = { value: c.gapMs.p99, unit: "ms" };
    figures[`${c.name}: delta latency p50`] = { value: c.deltaLatencyMs.median, unit: "ms" };
    figures[`${c.name}: delta latency p99`] = { value: c.deltaLatencyMs.p99, unit: "ms" };
    figures[`${c.name}: memory per idle session`] = { value: c.memory.perSessionRssMiB.median, unit: "MiB" };
    figures[`${c.name}: memory per session, shared divided`] = {
      value: c.memory.amortizedRssMiB,
      unit: "MiB",
    };
  }
  return figures;
}
