import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type AgentSession, createAgentRuntime, createSqlitePersistenceAdapter } from "@agent-runtime/server";
import { createFakeSandboxProvider, type FakeTurn } from "@agent-runtime/server/testing";
import { pino } from "pino";

export interface WorkspaceSyncResult {
  /** Sync of a turn that changed one file, by workspace size (files → ms). */
  readonly syncOneChangeMs: ReadonlyArray<{ files: number; ms: number }>;
  /** Restore of the whole workspace into a new sandbox: first message → agent running. */
  readonly restore: { files: number; bytes: number; ms: number };
  /** Peak RSS growth over the baseline while syncing and restoring. */
  readonly peakRssGrowthMb: number;
}

/**
 * The cost of keeping a workspace durable, measured on the runtime core with
 * real SQLite and an in-memory sandbox (so the figures are the runtime's and
 * the database's, not a sandbox's disk): syncing a turn that changes one
 * file must not grow with the workspace, and restoring a large workspace
 * must keep memory bounded.
 */
export async function measureWorkspaceSync(): Promise<WorkspaceSyncResult> {
  const dir = await mkdtemp(join(tmpdir(), "bench-workspace-"));
  let peakRss = 0;
  const baseline = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);
  try {
    const syncOneChangeMs: Array<{ files: number; ms: number }> = [];
    for (const files of [100, 10_000]) {
      syncOneChangeMs.push({ files, ms: await syncOfOneChange(dir, files) });
    }
    const restore = await restoreTime(dir, 5_000, 20 * 1024);
    return { syncOneChangeMs, restore, peakRssGrowthMb: (peakRss - baseline) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A runtime on SQLite whose fake agent runs `play` for each message. */
async function runtimeWith(dir: string, name: string, play: (turn: FakeTurn) => Promise<void>) {
  const runtime = createAgentRuntime({
    persistence: createSqlitePersistenceAdapter({ filename: join(dir, `${name}.sqlite`) }),
    sandbox: createFakeSandboxProvider({ runner: play }),
    agents: [{ id: "bench", name: "Bench" }],
    logger: pino({ level: "silent" }),
    syncIntervalMs: 0,
  });
  await runtime.start();
  return runtime;
}

async function turn(session: AgentSession, content: string): Promise<void> {
  const done = new Promise<void>((resolve) => {
    const stop = session.subscribe((event) => {
      if (event.type !== "session:turn:completed") return;
      stop();
      resolve();
    });
  });
  session.sendMessage(content);
  await done;
}

async function syncOfOneChange(dir: string, files: number): Promise<number> {
  const runtime = await runtimeWith(dir, `sync-${files}`, async (t) => {
    if (t.content === "fill") {
      for (let index = 0; index < files; index++)
        await t.writeFile(`src/file-${index}.txt`, `file ${index}\n`);
    } else await t.writeFile("src/file-0.txt", t.content);
  });
  const session = await runtime.sessions.create({ agentProfileRef: "bench" });
  await turn(session, "fill");
  await session.sync();
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    await turn(session, `change ${run}`);
    const started = performance.now();
    await session.sync();
    times.push(performance.now() - started);
  }
  await runtime.shutdown();
  return times.sort((a, b) => a - b)[2] ?? 0;
}

async function restoreTime(dir: string, files: number, fileBytes: number) {
  const content = randomBytes(fileBytes);
  const runtime = await runtimeWith(dir, "restore", async (t) => {
    if (t.content !== "fill") return;
    for (let index = 0; index < files; index++) await t.writeFile(`data/blob-${index}.bin`, content);
  });
  const session = await runtime.sessions.create({ agentProfileRef: "bench" });
  await turn(session, "fill");
  await session.sync();
  await session.hibernate();
  const started = performance.now();
  await turn(session, "again");
  const ms = performance.now() - started;
  await runtime.shutdown();
  return { files, bytes: files * fileBytes, ms };
}

export function printWorkspaceSync(result: WorkspaceSyncResult): void {
  for (const { files, ms } of result.syncOneChangeMs) {
    console.log(
      `  sync of a turn changing 1 file in a ${files}-file workspace (median of 5): ${ms.toFixed(1)} ms`,
    );
  }
  const { files, bytes, ms } = result.restore;
  console.log(
    `  restore of ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB into a new sandbox: ${ms.toFixed(0)} ms`,
  );
  console.log(`  peak RSS growth during both: ${result.peakRssGrowthMb.toFixed(0)} MiB`);
}

if (import.meta.url === `file://${process.argv[1]}`) printWorkspaceSync(await measureWorkspaceSync());
