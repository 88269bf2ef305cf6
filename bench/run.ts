import { formatSummary } from "./stats.js";
import { measureTurnLatency } from "./turn-latency.js";

/**
 * `npm run bench`: latency figures of the whole stack on this machine, as
 * medians over several turns. Set BENCH_TURNS to change the sample size.
 */
const turns = Number(process.env.BENCH_TURNS ?? 20);

for (const architecture of ["claude-agent-sdk", "opencode"] as const) {
  const result = await measureTurnLatency(architecture, turns);
  console.log(`\n${architecture}`);
  console.log(`  cold start (first message → first model request): ${result.coldStartMs.toFixed(0)} ms`);
  console.log(
    `  warm-turn overhead (message POST → model request): ${formatSummary(result.warmTurnOverheadMs)}`,
  );
  console.log(
    `  per-delta latency (model writes delta → socket client): ${formatSummary(result.perDeltaLatencyMs)}`,
  );
}
