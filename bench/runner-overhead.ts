import { chmod, mkdtemp, rm, stat, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startMockModel } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import {
  createAgentRuntime,
  createAgentServer,
  createLocalSandboxProvider,
  createSqlitePersistenceAdapter,
} from "@agent-runtime/server";
import { pino } from "pino";
import { io } from "socket.io-client";
import { descendantsOf, type ProcessSample, processesBelow } from "./process-tree.js";
import { type Summary, summarize } from "./stats.js";

/** What one Claude session costs on this machine beside the server, by part, after its first turn. */
export interface RunnerOverheadResult {
  readonly runs: number;
  /** The runner's own CPU time (start, first turn, a moment idle), in seconds. */
  readonly runnerCpuSeconds: Summary;
  /** The runner's resident set, in MiB. */
  readonly runnerRssMiB: Summary;
  /** The runner's proportional set (shared pages divided among their sharers), in MiB. */
  readonly runnerPssMiB: Summary;
  /** The runner's unique set (memory no other process shares: what one more session adds), in MiB. */
  readonly runnerUssMiB: Summary;
  /** CPU time of the session's processes that are neither the runner nor the agent (bwrap, helpers), in seconds. */
  readonly otherCpuSeconds: Summary;
  /** Resident set of those other processes together, in MiB. */
  readonly otherRssMiB: Summary;
  /** Unique set of those other processes together, in MiB. */
  readonly otherUssMiB: Summary;
  /** How many such other processes live per session. */
  readonly otherProcesses: Summary;
  /** The agent's processes (Claude Code and its children): CPU seconds and resident MiB, for scale. */
  readonly agentCpuSeconds: Summary;
  readonly agentRssMiB: Summary;
  /** The processes of the last run, for a closer look. */
  readonly lastRun: ReadonlyArray<{ role: string; argv0: string; cpuSeconds: number; rssMiB: number }>;
}

const MIB = 1024 * 1024;
/** How long the session idles after its turn before its processes are read. */
const IDLE_MS = 1_000;

/** Which runner entry the local provider runs (see `RunnerLocation.entry`). */
export type RunnerEntry = "unbundled" | "local-runner";

/**
 * Per-session overhead of the in-sandbox runner: `runs` times for each
 * entry, alternating (so a change of the machine's load hits both alike), a
 * fresh runtime (local bubblewrap sandboxes, this process) runs one Claude
 * Code session against the mock model through its first turn, idles a
 * second, and reads the session's processes from `/proc`: the runner (the
 * process running the runner's entry), the agent (the runner's
 * descendants) and the rest (bwrap's processes and anything else the
 * sandbox keeps). `unbundled` is `dist/main.js`, which the provider ran
 * before the local runner existed and runs when that is older than
 * `dist/main.js`: the bench makes it so for those runs by setting the
 * local runner manifest's time back, and restores it after.
 */
export async function measureRunnerOverhead(runs = 5): Promise<Record<RunnerEntry, RunnerOverheadResult>> {
  const samples: Record<RunnerEntry, SessionProcesses[]> = { unbundled: [], "local-runner": [] };
  for (let run = 0; run < runs; run++) {
    for (const entry of ["unbundled", "local-runner"] as const) {
      const session = await withEntry(entry, oneSession);
      const ran = session.runner.argv.some((part) => part.endsWith("/local-runner/main.cjs"))
        ? "local-runner"
        : "unbundled";
      if (ran !== entry) {
        throw new Error(
          `runner overhead: the provider ran ${ran} instead of ${entry}; rebuild the runner (npm run build)`,
        );
      }
      samples[entry].push(session);
    }
  }
  return {
    unbundled: summarizeRuns(samples.unbundled),
    "local-runner": summarizeRuns(samples["local-runner"]),
  };
}

interface SessionProcesses {
  readonly runner: ProcessSample;
  readonly agent: ProcessSample[];
  readonly other: ProcessSample[];
}

const runnerDir = fileURLToPath(new URL("../packages/runner/", import.meta.url));
const localManifest = join(runnerDir, "dist", "local-runner", "local-runner.json");
const unbundledMain = join(runnerDir, "dist", "main.js");

/** Runs `task` with the provider choosing `entry` (see `measureRunnerOverhead`). */
async function withEntry<T>(entry: RunnerEntry, task: () => Promise<T>): Promise<T> {
  const manifest = await stat(localManifest).catch(() => undefined);
  if (entry === "local-runner") {
    if (!manifest) throw new Error("runner overhead: build the local runner first (npm run build)");
    return task();
  }
  if (!manifest) return task();
  const main = await stat(unbundledMain);
  await utimes(localManifest, manifest.atime, new Date(main.mtimeMs - 1_000));
  try {
    return await task();
  } finally {
    await utimes(localManifest, manifest.atime, manifest.mtime);
  }
}

/** Splits the processes below this one into the session's runner, agent and the rest. */
function sessionProcesses(all: readonly ProcessSample[]): SessionProcesses {
  // The session's processes: bwrap's and those below it (not e.g. tsx's esbuild service).
  const sandboxRoots = all.filter((process) => /(^|\/)bwrap$/.test(process.argv[0] ?? ""));
  const processes = all.filter(
    (process) =>
      sandboxRoots.includes(process) ||
      sandboxRoots.some((root) => processesBelow(root.pid, all).includes(process)),
  );
  const runner = processes.find(isRunner);
  if (!runner) throw new Error("runner overhead: no runner process found below this process");
  const agent = processesBelow(runner.pid, processes);
  const other = processes.filter((process) => process !== runner && !agent.includes(process));
  return { runner, agent, other };
}

function summarizeRuns(samples: readonly SessionProcesses[]): RunnerOverheadResult {
  const sum = (list: ProcessSample[], pick: (process: ProcessSample) => number) =>
    list.reduce((total, process) => total + pick(process), 0);
  const last = samples.at(-1)!;
  const role = (process: ProcessSample) =>
    process === last.runner ? "runner" : last.agent.includes(process) ? "agent" : "sandbox";
  return {
    runs: samples.length,
    runnerCpuSeconds: summarize(samples.map((s) => s.runner.cpuSeconds)),
    runnerRssMiB: summarize(samples.map((s) => s.runner.rssBytes / MIB)),
    runnerPssMiB: summarize(samples.map((s) => s.runner.pssBytes / MIB)),
    runnerUssMiB: summarize(samples.map((s) => s.runner.ussBytes / MIB)),
    otherCpuSeconds: summarize(samples.map((s) => sum(s.other, (p) => p.cpuSeconds))),
    otherRssMiB: summarize(samples.map((s) => sum(s.other, (p) => p.rssBytes) / MIB)),
    otherUssMiB: summarize(samples.map((s) => sum(s.other, (p) => p.ussBytes) / MIB)),
    otherProcesses: summarize(samples.map((s) => s.other.length)),
    agentCpuSeconds: summarize(samples.map((s) => sum(s.agent, (p) => p.cpuSeconds))),
    agentRssMiB: summarize(samples.map((s) => sum(s.agent, (p) => p.rssBytes) / MIB)),
    lastRun: [last.runner, ...last.agent, ...last.other].map((process) => ({
      role: role(process),
      argv0: process.argv.slice(0, 2).join(" "),
      cpuSeconds: process.cpuSeconds,
      rssMiB: process.rssBytes / MIB,
    })),
  };
}

/** The runner: the `node` whose script is one of the runner's entries (`dist/main.js`, the local runner, the bundle). */
function isRunner(process: ProcessSample): boolean {
  return (
    /(^|\/)node$/.test(process.argv[0] ?? "") &&
    process.argv.some((part) =>
      /\/runner\/dist\/(main\.js|local-runner\/main\.cjs|bundle\/runner\.mjs)$/.test(part),
    )
  );
}

/** Runs one session through its first turn and returns the processes below this one while it idles. */
async function oneSession(): Promise<SessionProcesses> {
  const mock = await startMockModel({
    script: {
      rules: [
        { match: { prompt: "bench" }, reply: { steps: ["The quick brown fox. ".repeat(10)], chunkSize: 8 } },
      ],
    },
  });
  const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-bench-runner-"));
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(dataDir, 0o711);
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
  try {
    const created = (await (
      await fetch(`${url}/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentProfileRef: "bench", architecture: "claude-agent-sdk" }),
      })
    ).json()) as { sessionId: string };
    await socket.timeout(5_000).emitWithAck("session:join", { sessionId: created.sessionId });
    const completed = new Promise<void>((resolve, reject) => {
      socket.onAny((name: string, event: SessionEvent) => {
        if (name === "session:turn:completed") resolve();
        if (event.type === "error") reject(new Error(`runner overhead: ${JSON.stringify(event)}`));
      });
    });
    const sent = await fetch(`${url}/sessions/${created.sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "bench" }),
    });
    if (sent.status !== 202) throw new Error(`runner overhead: message refused (${sent.status})`);
    await completed;
    await delay(IDLE_MS);
    return sessionProcesses(descendantsOf(process.pid));
  } finally {
    socket.close();
    await server.close();
    await mock.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function printRunnerOverhead(results: Record<RunnerEntry, RunnerOverheadResult>): void {
  for (const [entry, result] of Object.entries(results)) {
    console.log(
      entry === "unbundled"
        ? "  before: dist/main.js (unbundled ES modules)"
        : "  after: the local runner (one script, V8 code cache, --max-semi-space-size=1)",
    );
    printOne(result);
  }
}

function printOne(result: RunnerOverheadResult): void {
  const f = (summary: Summary, digits = 2) =>
    `median ${summary.median.toFixed(digits)} (min ${summary.min.toFixed(digits)}, max ${summary.max.toFixed(digits)})`;
  console.log(
    `    runner CPU, start + first turn + 1 s idle: ${f(result.runnerCpuSeconds)} s (target ≤ 0.15)`,
  );
  console.log(`    runner RSS: ${f(result.runnerRssMiB, 1)} MiB (target ≤ 25)`);
  console.log(
    `    runner USS (its own memory, what one more session adds): ${f(result.runnerUssMiB, 1)} MiB; PSS ${f(result.runnerPssMiB, 1)} MiB`,
  );
  console.log(
    `    other sandbox processes: ${f(result.otherProcesses, 0)} per session, RSS ${f(result.otherRssMiB, 1)} MiB, USS ${f(result.otherUssMiB, 1)} MiB, CPU ${f(result.otherCpuSeconds)} s`,
  );
  console.log(
    `    agent (Claude Code), for scale: CPU ${f(result.agentCpuSeconds)} s, RSS ${f(result.agentRssMiB, 1)} MiB`,
  );
  console.log("    processes of the last run:");
  for (const process of result.lastRun) {
    console.log(
      `      ${process.role.padEnd(8)} ${process.cpuSeconds.toFixed(2)} s ${process.rssMiB.toFixed(1).padStart(6)} MiB  ${process.argv0.slice(0, 100)}`,
    );
  }
}
