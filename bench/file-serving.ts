import { chmod, mkdtemp, rm } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { startMockModel } from "@agent-runtime/mock-model";
import type { SessionData } from "@agent-runtime/protocol";
import { processMemory, resetPeakMemory, startServeProcess } from "./server-process.js";

/** The file served: sparse, so it costs no disk, only reads. */
const FILE_BYTES = 2_000_000_000;
const CLIENTS = 4;
const MiB = 2 ** 20;

export interface FileServingResult {
  /** The server's resident memory before the reads. */
  readonly baselineRssMb: number;
  /** Every client reads the whole file as fast as it can. */
  readonly fast: { readonly peakRssGrowthMb: number; readonly seconds: number; readonly mbPerSecond: number };
  /** Every client reads 1 MiB every 100 ms (10 MiB/s), for 10 s: the server must hold back, not buffer. */
  readonly slow: { readonly peakRssGrowthMb: number; readonly mbRead: number };
}

/**
 * Server memory and throughput while it serves a 2 GB file to 4 clients at
 * once (`GET /sessions/:id/files/*`), measured on `agent-runtime serve` in
 * its own process (SQLite, a real local sandbox, the real Claude Code
 * against the mock model, which makes the file with `truncate`). Memory is
 * the server process's peak resident set (`VmHWM`, reset before each run),
 * so the clients' own buffers do not count.
 */
export async function measureFileServing(): Promise<FileServingResult> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-files-"));
  await chmod(dataDir, 0o711);
  const mock = await startMockModel({
    script: {
      rules: [
        {
          match: { prompt: "Make a big file" },
          replies: [
            {
              tool: "Bash",
              input: { command: `truncate -s ${FILE_BYTES} big.bin`, description: "Big file" },
            },
            "Made.",
          ],
        },
      ],
    },
  });
  const server = await startServeProcess(dataDir, mock.url);
  try {
    const { sessionId } = await post<{ sessionId: string }>(server.url, "/sessions", {
      agentProfileRef: "bench",
    });
    await post(server.url, `/sessions/${sessionId}/messages`, { content: "Make a big file" });
    const url = `${server.url}/sessions/${sessionId}/files/big.bin`;
    let data: SessionData | undefined;
    await until(async () => {
      data = (await (await fetch(`${server.url}/sessions/${sessionId}`)).json()) as SessionData;
      return (
        data.files.some((file) => file.path === "big.bin" && file.size === FILE_BYTES) && !data.runtime.busy
      );
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}; the session: ${JSON.stringify(data).slice(0, 2000)}`);
    });
    await delay(1000);
    const baselineRssMb = (await processMemory(server.process)).rss / MiB;

    await resetPeakMemory(server.process);
    const started = performance.now();
    const totals = await Promise.all(Array.from({ length: CLIENTS }, () => readAll(url)));
    const seconds = (performance.now() - started) / 1000;
    if (totals.some((total) => total !== FILE_BYTES)) throw new Error(`Short reads: ${totals.join(", ")}`);
    const fastPeak = (await processMemory(server.process)).peak / MiB;

    await resetPeakMemory(server.process);
    const slowTotals = await Promise.all(Array.from({ length: CLIENTS }, () => readSlowly(url, 10_000)));
    const slowPeak = (await processMemory(server.process)).peak / MiB;

    return {
      baselineRssMb,
      fast: {
        peakRssGrowthMb: fastPeak - baselineRssMb,
        seconds,
        mbPerSecond: (CLIENTS * FILE_BYTES) / MiB / seconds,
      },
      slow: {
        peakRssGrowthMb: slowPeak - baselineRssMb,
        mbRead: slowTotals.reduce((sum, total) => sum + total, 0) / MiB,
      },
    };
  } finally {
    await server.stop();
    await mock.close();
    // The disk image of the sandbox may take a moment to be released after the server exits.
    await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

export function printFileServing(result: FileServingResult): void {
  const mb = (value: number) => `${value.toFixed(0)} MiB`;
  console.log(`  server RSS before: ${mb(result.baselineRssMb)}`);
  console.log(
    `  ${CLIENTS} clients × 2 GB, full speed: peak RSS +${mb(result.fast.peakRssGrowthMb)}, ` +
      `${result.fast.mbPerSecond.toFixed(0)} MiB/s in total (${result.fast.seconds.toFixed(1)} s)`,
  );
  console.log(
    `  ${CLIENTS} slow clients (10 MiB/s each, 10 s, ${result.slow.mbRead.toFixed(0)} MiB read): ` +
      `peak RSS +${mb(result.slow.peakRssGrowthMb)}`,
  );
}

async function post<T>(url: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for the big file");
    await delay(200);
  }
}

/** A GET through `node:http` (lighter than `fetch`, so the clients leave the cores to the server). */
function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => httpGet(url, resolve).once("error", reject));
}

async function readAll(url: string): Promise<number> {
  let total = 0;
  for await (const chunk of await get(url)) total += (chunk as Buffer).byteLength;
  return total;
}

/** Reads about 1 MiB every 100 ms for `ms`, then goes away. */
async function readSlowly(url: string, ms: number): Promise<number> {
  const response = await get(url);
  const deadline = Date.now() + ms;
  let total = 0;
  let tick = 0;
  for await (const chunk of response) {
    total += (chunk as Buffer).byteLength;
    tick += (chunk as Buffer).byteLength;
    if (Date.now() >= deadline) break;
    if (tick >= MiB) {
      tick = 0;
      await delay(100);
    }
  }
  return total;
}

if (import.meta.url === `file://${process.argv[1]}`) printFileServing(await measureFileServing());
