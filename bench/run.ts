import { measureCluster, printCluster } from "./cluster.js";
import { measureColdStartLoad, printColdStartLoad } from "./cold-start-load.js";
import { measureDependencies, printDependencies } from "./dependencies.js";
import { measureFileServing, printFileServing } from "./file-serving.js";
import {
  measureIdleSuspension,
  measureStoredSessions,
  printIdleSuspension,
  printStoredSessions,
} from "./idle-suspension.js";
import { measurePeers, peersFigures, printPeers } from "./peers.js";
import { measurePersistence, printPersistence } from "./persistence.js";
import { type Figure, saveAndCompare } from "./results.js";
import { measureRunnerOverhead, printRunnerOverhead } from "./runner-overhead.js";
import { measureSandboxLifecycle } from "./sandbox-lifecycle.js";
import { measureSessionRead, printSessionRead } from "./session-read.js";
import { measureSocketFanout, printSocketFanout } from "./socket-fanout.js";
import { measureSocketReplay, printSocketReplay } from "./socket-replay.js";
import { formatSummary, summarize } from "./stats.js";
import { measureDirectSdkLatency, measureTurnLatency, type TurnLatencyResult } from "./turn-latency.js";
import { measureWarmPool, printWarmPool } from "./warm-pool.js";
import { measureWorkspaceSync, printWorkspaceSync } from "./workspace-sync.js";

/**
 * `npm run bench`: latency figures of the whole stack on this machine, as
 * medians over several turns, and the same figures for the Claude Agent SDK
 * called directly (the floor the runtime is compared with). Set BENCH_TURNS
 * to change the sample size.
 */
const turns = Number(process.env.BENCH_TURNS ?? 20);

const DEPENDENCIES_TITLE = "profile dependencies (3 npm + 2 pip packages, local sandboxes)";
// `npm run bench -- dependencies`: that section alone.
if (process.argv.includes("dependencies")) {
  console.log(DEPENDENCIES_TITLE);
  printDependencies(await measureDependencies());
  process.exit(0);
}

// `npm run bench -- cluster`: cluster mode alone (three nodes on PostgreSQL and Redis).
if (process.argv.includes("cluster")) {
  console.log("cluster mode (3 nodes, one PostgreSQL, one Redis, local sandboxes)");
  printCluster(
    await measureCluster({
      turns: Number(process.env.BENCH_TURNS ?? 10),
      takeovers: Number(process.env.BENCH_TAKEOVERS ?? 5),
      sessions: Number(process.env.BENCH_SESSIONS ?? 6),
    }),
  );
  process.exit(0);
}

const PEERS_TITLE =
  "side by side: Agent Runtime (local bubblewrap sandboxes) and Rivet's sandbox-agent (no isolation), the same Claude Code and mock model";
/** BENCH_PEERS_RUNS (5): sessions per contestant; BENCH_PEERS_WARM_TURNS (5): warm turns per session. */
async function peers(): Promise<void> {
  const result = await measurePeers({
    runs: Number(process.env.BENCH_PEERS_RUNS ?? 5),
    warmTurns: Number(process.env.BENCH_PEERS_WARM_TURNS ?? 5),
  });
  printPeers(result);
  await saveAndCompare("peers", peersFigures(result), result);
}
// `npm run bench:peers` (`npm run bench -- peers`): that section alone.
if (process.argv.includes("peers")) {
  console.log(PEERS_TITLE);
  await peers();
  process.exit(0);
}

const RUNNER_OVERHEAD_TITLE =
  "runner overhead per Claude session (local sandboxes; medians of BENCH_RUNNER_RUNS runs, default 5)";
// `npm run bench -- runner-overhead`: that section alone.
if (process.argv.includes("runner-overhead")) {
  console.log(RUNNER_OVERHEAD_TITLE);
  printRunnerOverhead(await measureRunnerOverhead(Number(process.env.BENCH_RUNNER_RUNS ?? 5)));
  process.exit(0);
}

const WARM_POOL_TITLE =
  "warm pool: create + first message → first delta, without and with --warm-pool 1 (local sandboxes; BENCH_WARM_POOL_RUNS, default 5)";
// `npm run bench -- warm-pool`: that section alone.
if (process.argv.includes("warm-pool")) {
  console.log(WARM_POOL_TITLE);
  printWarmPool(await measureWarmPool(Number(process.env.BENCH_WARM_POOL_RUNS ?? 5)));
  process.exit(0);
}

const FANOUT_TITLE = "socket fan-out (one session, many socket.io clients, an agent streaming 100 deltas/s)";
/** BENCH_FANOUT_CLIENTS (500), BENCH_FANOUT_DELTAS (500); BENCH_FANOUT_BATCH=0: clients that take no batches. */
const fanoutOptions = () => ({
  clients: Number(process.env.BENCH_FANOUT_CLIENTS ?? 500),
  deltas: Number(process.env.BENCH_FANOUT_DELTAS ?? 500),
  batch: process.env.BENCH_FANOUT_BATCH !== "0",
});
// `npm run bench -- fanout`: that section alone.
if (process.argv.includes("fanout")) {
  console.log(FANOUT_TITLE);
  printSocketFanout(await measureSocketFanout(fanoutOptions()));
  process.exit(0);
}

const COLD_START_LOAD_TITLE =
  "a live stream while 16 sessions start at once (agent-runtime serve, local sandboxes; admission control on, then lifted)";
async function coldStartLoad(): Promise<void> {
  printColdStartLoad(await measureColdStartLoad(16));
  printColdStartLoad(await measureColdStartLoad(16, 16));
}
// `npm run bench -- cold-start-load`: that section alone.
if (process.argv.includes("cold-start-load")) {
  console.log(COLD_START_LOAD_TITLE);
  await coldStartLoad();
  process.exit(0);
}

const IDLE_SUSPENSION_TITLE =
  "idle density (agent-runtime serve, local sandboxes, Claude Code; BENCH_SUSPEND_RUNS runs, default 5; BENCH_STORED_SESSIONS, default 1000)";
async function idleDensity(): Promise<void> {
  printIdleSuspension(await measureIdleSuspension(Number(process.env.BENCH_SUSPEND_RUNS ?? 5)));
  printStoredSessions(await measureStoredSessions(Number(process.env.BENCH_STORED_SESSIONS ?? 1000)));
}
// `npm run bench -- idle-suspension`: that section alone.
if (process.argv.includes("idle-suspension")) {
  console.log(IDLE_SUSPENSION_TITLE);
  await idleDensity();
  process.exit(0);
}

const SESSION_READ_TITLE = "session reads (a stored 10,000-block session, 8 concurrent clients, in process)";
// `npm run bench -- session-read`: that section alone.
if (process.argv.includes("session-read")) {
  console.log(SESSION_READ_TITLE);
  printSessionRead(await measureSessionRead());
  process.exit(0);
}

function addLatencyFigures(figures: Record<string, Figure>, result: TurnLatencyResult): void {
  figures[`${result.architecture}: cold start`] = { value: result.coldStartMs, unit: "ms" };
  figures[`${result.architecture}: warm-turn overhead`] = {
    value: result.warmTurnOverheadMs.median,
    unit: "ms",
  };
  figures[`${result.architecture}: per-delta p50`] = { value: result.perDeltaLatencyMs.median, unit: "ms" };
  figures[`${result.architecture}: per-delta p99`] = { value: result.perDeltaLatencyMs.p99, unit: "ms" };
}

function print(result: TurnLatencyResult): void {
  console.log(`\n${result.architecture}`);
  console.log(`  cold start (first message → first model request): ${result.coldStartMs.toFixed(0)} ms`);
  console.log(
    `  warm-turn overhead (message sent → model request): ${formatSummary(result.warmTurnOverheadMs)}`,
  );
  console.log(
    `  per-delta latency (model writes delta → consumer): ${formatSummary(result.perDeltaLatencyMs)}`,
  );
}

const direct = await measureDirectSdkLatency(turns);
print(direct);
/** The latency figures saved with the run and compared with the previous one (`bench/results.ts`). */
const latencyFigures: Record<string, Figure> = {};
addLatencyFigures(latencyFigures, direct);
for (const architecture of ["claude-agent-sdk", "opencode", "codex", "gemini"] as const) {
  const result = await measureTurnLatency(architecture, turns);
  print(result);
  addLatencyFigures(latencyFigures, result);
  if (architecture !== "claude-agent-sdk") continue;
  const warm = result.warmTurnOverheadMs.median / direct.warmTurnOverheadMs.median;
  const deltaP50 = result.perDeltaLatencyMs.median - direct.perDeltaLatencyMs.median;
  const deltaP99 = result.perDeltaLatencyMs.p99 - direct.perDeltaLatencyMs.p99;
  // One cold start per run is noisy: take the median of several fresh runs of each.
  const coldRuns = Number(process.env.BENCH_COLD_RUNS ?? 5);
  const directColds = [direct.coldStartMs];
  const runtimeColds = [result.coldStartMs];
  for (let run = 1; run < coldRuns; run++) {
    directColds.push((await measureDirectSdkLatency(1)).coldStartMs);
    runtimeColds.push((await measureTurnLatency("claude-agent-sdk", 1)).coldStartMs);
  }
  const directCold = summarize(directColds).median;
  const runtimeCold = summarize(runtimeColds).median;
  const cold = runtimeCold - directCold;
  const verdict = (ok: boolean) => (ok ? "ok" : "OVER TARGET");
  console.log("\nclaude-agent-sdk: runtime against the direct SDK");
  console.log(
    `  warm turn, runtime / direct (medians): ${warm.toFixed(2)}× (target ≤ 1.1×) ${verdict(warm <= 1.1)}`,
  );
  console.log(
    `  per-delta added latency: p50 ${deltaP50.toFixed(2)} ms (target ≤ 2), p99 ${deltaP99.toFixed(2)} ms (target ≤ 10) ${verdict(deltaP50 <= 2 && deltaP99 <= 10)}`,
  );
  console.log(
    `  cold start, runtime − direct (medians of ${coldRuns} runs: ${runtimeCold.toFixed(0)} − ${directCold.toFixed(0)} ms): ${cold.toFixed(0)} ms (target ≤ 300) ${verdict(cold <= 300)}`,
  );
}

await saveAndCompare("turn-latency", latencyFigures);

const lifecycle = await measureSandboxLifecycle(50);
const withPolicy = await measureSandboxLifecycle(50, { allow: ["127.0.0.1:4100"] });
console.log(
  "\nlocal sandbox (50 runs each; published cloud create-to-first-command medians: Daytona ~190 ms, E2B ~490 ms, Modal ~1.7 s)",
);
console.log(`  create → first command: ${formatSummary(lifecycle.createToFirstCommandMs)}`);
console.log(
  `  create → first command, with the egress policy: ${formatSummary(withPolicy.createToFirstCommandMs)}`,
);
console.log(`  terminate: ${formatSummary(lifecycle.terminateMs)}`);

console.log("\npersistence");
printPersistence(await measurePersistence());

console.log("\nworkspace durability (runtime core + SQLite, in-memory sandbox)");
printWorkspaceSync(await measureWorkspaceSync());

console.log("\nfile serving (agent-runtime serve, a local sandbox, a 2 GB file to 4 clients)");
printFileServing(await measureFileServing());

console.log("\nsocket replay (agent-runtime serve, 100 slow socket.io clients replaying a 32 MB session)");
printSocketReplay(await measureSocketReplay());

console.log(`\n${FANOUT_TITLE}`);
printSocketFanout(await measureSocketFanout(fanoutOptions()));

console.log(`\n${COLD_START_LOAD_TITLE}`);
await coldStartLoad();

console.log(`\n${SESSION_READ_TITLE}`);
printSessionRead(await measureSessionRead());

console.log(`\n${DEPENDENCIES_TITLE}`);
printDependencies(await measureDependencies());

console.log(`\n${IDLE_SUSPENSION_TITLE}`);
await idleDensity();

console.log(`\n${RUNNER_OVERHEAD_TITLE}`);
printRunnerOverhead(await measureRunnerOverhead(Number(process.env.BENCH_RUNNER_RUNS ?? 5)));
