import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  type BuiltInPersistenceAdapter,
  createPostgresPersistenceAdapter,
  createSqlitePersistenceAdapter,
} from "@agent-runtime/server";
import pg from "pg";
import { blocksPerTurn, createSessionWorkload } from "./persistence-workload.js";
import { formatSummary, type Summary, summarize } from "./stats.js";

export interface MeasurePersistenceOptions {
  /**
   * Database for the PostgreSQL figures; a schema of its own is created and dropped.
   * @default "postgres://postgres@127.0.0.1:5432/test"
   */
  postgresUrl?: string;
  /**
   * Session sizes: blocks each session holds when syncing begins.
   * @default [10, 100, 1000, 10000]
   */
  sizes?: readonly number[];
  /**
   * Measured syncs per size (after 2 unmeasured ones).
   * @default 20
   */
  syncs?: number;
  /**
   * Measured loads of the largest session, per kind (warm: after 1 unmeasured one).
   * @default 9
   */
  loads?: number;
}

export interface SyncCost {
  /** Blocks the session held when syncing began; each sync adds 5 (2 unmeasured syncs come first). */
  readonly blocks: number;
  /** What one incremental sync passes to the adapter: JSON of the new blocks and the record, plus one changed file. */
  readonly incrementalBytes: number;
  /** `saveWorkspaceFile` + `saveBlocks` + `updateSession`, as `syncOnce` calls them. */
  readonly incrementalMs: Summary;
  /** Median size of the transcript lines appended per sync (one JSON line per block). */
  readonly transcriptBytes: number;
  /** `appendTranscript` of those lines, which `syncOnce` does when the agent wrote to its transcript. */
  readonly transcriptMs: Summary;
}

/** `loadSession`, then `loadBlocks` and `listWorkspaceFiles` together, as `SessionManager` does. */
export interface LoadCost {
  readonly blocks: number;
  /** JSON size of the loaded blocks. */
  readonly bytes: number;
  /** Through the adapter that wrote the session (its connection and page cache warm). */
  readonly warmMs: Summary;
  /** Through a newly opened adapter each time, as after a server restart (server and OS caches warm). */
  readonly freshAdapterMs: Summary;
}

export type BackendPersistenceResult =
  | { readonly backend: string; readonly sync: SyncCost[]; readonly load: LoadCost }
  /** `skipped` holds the error that stopped the measurement (e.g. the database is unreachable). */
  | { readonly backend: string; readonly skipped: string };

export interface PersistenceResult {
  readonly backends: BackendPersistenceResult[];
}

const filesPerSession = 10;
const warmupSyncs = 2;
const loadTargetMs = 200;

/**
 * Measures the SQLite (temporary file) and PostgreSQL adapters with the
 * writes of a session sync and the reads of a session's first load (the
 * largest session, before any sync). Loads run on warm database-server and OS
 * caches. PostgreSQL is reported as skipped when it cannot be reached; its
 * schema is dropped afterwards either way.
 */
export async function measurePersistence(
  options: MeasurePersistenceOptions = {},
): Promise<PersistenceResult> {
  const {
    postgresUrl = "postgres://postgres@127.0.0.1:5432/test",
    sizes = [10, 100, 1_000, 10_000],
    syncs = 20,
    loads = 9,
  } = options;
  const plan = { sizes, syncs, loads };
  const backends: BackendPersistenceResult[] = [];

  const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-bench-persistence-"));
  try {
    const filename = join(dataDir, "bench.sqlite");
    const result = await measureAdapter(() => createSqlitePersistenceAdapter({ filename }), plan);
    backends.push({ backend: "sqlite", ...result });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }

  const schema = `bench_persistence_${randomUUID().slice(0, 8)}`;
  try {
    const result = await measureAdapter(
      () => createPostgresPersistenceAdapter({ connectionString: postgresUrl, schema }),
      plan,
    );
    backends.push({ backend: "postgres", ...result });
  } catch (error) {
    backends.push({ backend: "postgres", skipped: error instanceof Error ? error.message : String(error) });
  } finally {
    await dropSchema(postgresUrl, schema).catch(() => undefined);
  }
  return { backends };
}

/** Prints the figures as tables, one section per backend, for `npm run bench`. */
export function printPersistence(result: PersistenceResult): void {
  for (const entry of result.backends) {
    console.log(`\npersistence: ${entry.backend}`);
    if ("skipped" in entry) {
      console.log(`  not measured: ${entry.skipped}`);
      continue;
    }
    console.log("  sync per turn (5 new blocks + record + 1 changed file):");
    for (const cost of entry.sync) {
      console.log(
        `    ${String(cost.blocks).padStart(6)} blocks: ${kb(cost.incrementalBytes)} written, ${formatSummary(cost.incrementalMs)}`,
      );
    }
    const first = entry.sync[0]!;
    const last = entry.sync.at(-1)!;
    console.log(
      `    time(${last.blocks}) / time(${first.blocks}): ${(last.incrementalMs.median / first.incrementalMs.median).toFixed(2)}`,
    );
    console.log("  transcript per turn (appendTranscript of the new lines):");
    for (const cost of entry.sync) {
      console.log(
        `    ${String(cost.blocks).padStart(6)} blocks: ${kb(cost.transcriptBytes)} written, ${formatSummary(cost.transcriptMs)}`,
      );
    }
    const { load } = entry;
    console.log(`  load ${load.blocks} blocks (${kb(load.bytes)}), target median < ${loadTargetMs} ms:`);
    for (const [kind, ms] of [
      ["same adapter", load.warmMs],
      ["fresh adapter", load.freshAdapterMs],
    ] as const) {
      console.log(
        `    ${kind}: ${formatSummary(ms)}${ms.median < loadTargetMs ? "" : " (MISSES the target)"}`,
      );
    }
  }
}

async function measureAdapter(
  open: () => BuiltInPersistenceAdapter,
  plan: { sizes: readonly number[]; syncs: number; loads: number },
): Promise<{ sync: SyncCost[]; load: LoadCost }> {
  const adapter = open();
  await adapter.init();
  try {
    const sessions = [];
    for (const [index, size] of plan.sizes.entries()) {
      sessions.push(await seedSession(adapter, `bench-${index}-${size}`, size, index + 1));
    }

    const largest = sessions.reduce((a, b) => (b.size > a.size ? b : a));
    const warmMs: number[] = [];
    for (let run = 0; run <= plan.loads; run++) {
      const elapsed = await timeLoad(adapter, largest.id, largest.size);
      if (run > 0) warmMs.push(elapsed);
    }
    const freshAdapterMs: number[] = [];
    for (let run = 0; run < plan.loads; run++) {
      const fresh = open();
      await fresh.init();
      try {
        freshAdapterMs.push(await timeLoad(fresh, largest.id, largest.size));
      } finally {
        await fresh.close();
      }
    }
    const load: LoadCost = {
      blocks: largest.size,
      bytes: Buffer.byteLength(JSON.stringify(await adapter.loadBlocks(largest.id))),
      warmMs: summarize(warmMs),
      freshAdapterMs: summarize(freshAdapterMs),
    };

    const incremental = await inRounds(sessions, plan.syncs, (session) => syncIncrement(adapter, session));
    const transcript = await inRounds(sessions, plan.syncs, (session) => appendTranscript(adapter, session));

    return {
      sync: sessions.map((session, index) => ({
        blocks: session.size,
        incrementalBytes: summarize(incremental[index]!.map((sample) => sample.bytes)).median,
        incrementalMs: summarize(incremental[index]!.map((sample) => sample.ms)),
        transcriptBytes: summarize(transcript[index]!.map((sample) => sample.bytes)).median,
        transcriptMs: summarize(transcript[index]!.map((sample) => sample.ms)),
      })),
      load,
    };
  } finally {
    await adapter.close();
  }
}

async function timeLoad(adapter: BuiltInPersistenceAdapter, sessionId: string, blocks: number) {
  const started = performance.now();
  const record = await adapter.loadSession(sessionId);
  const [loaded] = await Promise.all([adapter.loadBlocks(sessionId), adapter.listWorkspaceFiles(sessionId)]);
  const elapsed = performance.now() - started;
  if (!record || loaded.length !== blocks) throw new Error(`session ${sessionId} loaded incomplete`);
  return elapsed;
}

interface SeededSession {
  readonly id: string;
  readonly size: number;
  readonly workload: ReturnType<typeof createSessionWorkload>;
  /** Blocks stored so far. */
  count: number;
  /** The native transcript, one line per block. */
  readonly transcript: string[];
  /** How many of its lines are stored. */
  storedLines: number;
}

/** Creates a session holding `size` blocks, its files and its transcript (setup, not measured). */
async function seedSession(
  adapter: BuiltInPersistenceAdapter,
  id: string,
  size: number,
  seed: number,
): Promise<SeededSession> {
  const workload = createSessionWorkload(id, seed);
  await adapter.createSession(workload.record(0));
  const blocks = Array.from({ length: size }, (_, order) => ({ order, block: workload.block(order) }));
  for (let start = 0; start < size; start += 2_000) {
    await adapter.saveBlocks(id, blocks.slice(start, start + 2_000));
  }
  for (let index = 0; index < filesPerSession; index++) {
    await adapter.saveWorkspaceFile(id, workload.file(index));
  }
  const transcript = blocks.map(({ block }) => `${JSON.stringify(block)}\n`);
  await adapter.saveTranscript(id, transcript.join(""));
  await adapter.updateSession(workload.record(size));
  return { id, size, workload, count: size, transcript, storedLines: transcript.length };
}

/**
 * Runs `step` on every session in turn, `warmupSyncs + syncs` rounds, so
 * drift (WAL growth, checkpoints, JIT warm-up) spreads evenly over the
 * sizes. Returns the samples of the measured rounds, per session.
 */
async function inRounds(
  sessions: readonly SeededSession[],
  syncs: number,
  step: (session: SeededSession) => Promise<Sample>,
): Promise<Sample[][]> {
  const samples = sessions.map((): Sample[] => []);
  for (let round = 0; round < warmupSyncs + syncs; round++) {
    for (const [index, session] of sessions.entries()) {
      const sample = await step(session);
      if (round >= warmupSyncs) samples[index]!.push(sample);
    }
  }
  return samples;
}

interface Sample {
  readonly bytes: number;
  readonly ms: number;
}

/**
 * The incremental part of one turn's sync, in `syncOnce`'s order: the
 * changed file, the turn's new blocks, the record.
 */
async function syncIncrement(adapter: BuiltInPersistenceAdapter, session: SeededSession): Promise<Sample> {
  const { workload } = session;
  const blocks = Array.from({ length: blocksPerTurn }, (_, offset) => {
    const order = session.count + offset;
    return { order, block: workload.block(order) };
  });
  const file = workload.file(session.count % filesPerSession);
  const record = workload.record(session.count + blocksPerTurn);
  for (const { block } of blocks) session.transcript.push(`${JSON.stringify(block)}\n`);

  const started = performance.now();
  await adapter.saveWorkspaceFile(session.id, file);
  await adapter.saveBlocks(session.id, blocks);
  await adapter.updateSession(record);
  const ms = performance.now() - started;

  session.count += blocksPerTurn;
  const bytes =
    blocks.reduce((sum, { block }) => sum + Buffer.byteLength(JSON.stringify(block)), 0) +
    Buffer.byteLength(JSON.stringify(record)) +
    Buffer.byteLength(file.path) +
    Buffer.byteLength(file.content);
  return { bytes, ms };
}

/**
 * The rest of `syncOnce` when the agent wrote to its transcript (every
 * turn): the session appends only the lines that are new since its last
 * sync (`appendTranscript`), as it does for Claude Code's append-only JSONL.
 * Measured apart from the incremental part above.
 */
async function appendTranscript(adapter: BuiltInPersistenceAdapter, session: SeededSession): Promise<Sample> {
  // The sync rounds ran first and added `blocksPerTurn` lines per turn: append one turn's worth.
  const added = session.transcript.slice(session.storedLines, session.storedLines + blocksPerTurn).join("");
  session.storedLines += blocksPerTurn;
  const started = performance.now();
  await adapter.appendTranscript(session.id, added);
  return { bytes: Buffer.byteLength(added), ms: performance.now() - started };
}

async function dropSchema(connectionString: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`);
  } finally {
    await client.end();
  }
}

function kb(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}
