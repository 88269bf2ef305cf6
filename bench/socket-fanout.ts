import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { formatSummary, type Summary, summarize } from "./stats.js";

export interface SocketFanoutOptions {
  /** Socket.io clients watching the one session. @default 500 */
  readonly clients?: number;
  /** Text deltas the agent streams. @default 500 */
  readonly deltas?: number;
  /** Time between two deltas (10 ms: 100 deltas/s). @default 10 */
  readonly intervalMs?: number;
  /** Processes the clients are spread over. @default 2 */
  readonly clientProcesses?: number;
  /** Clients ask for batches of events (`session:events`) when the server falls behind. @default true */
  readonly batch?: boolean;
}

export interface SocketFanoutResult {
  readonly clients: number;
  readonly deltas: number;
  readonly intervalMs: number;
  readonly batch: boolean;
  /** Due time (when the agent wrote the delta) → client, every delta of every client. */
  readonly latencyMs: Summary;
  /** The same for the first and the last tenth of the stream: a growing backlog shows as the last being later. */
  readonly firstTenthMs: Summary;
  readonly lastTenthMs: Summary;
  /** Deltas that never arrived (over all clients). */
  readonly missing: number;
  /** The server process's event-loop delay during the stream. */
  readonly loopDelayMs: { p50: number; p99: number; max: number };
}

const SERVER = fileURLToPath(new URL("./fanout-server.ts", import.meta.url));
const CLIENTS = fileURLToPath(new URL("./fanout-clients.ts", import.meta.url));

/**
 * One session watched by many socket.io clients while its agent streams text
 * deltas at a steady rate (issue 25's fan-out run): how late each delta
 * reaches each client, measured from when the agent wrote it, and whether
 * the lateness grows through the stream (a backlog). The server
 * (`fanout-server.ts`: the real transports, runner protocol, parser and
 * event log; a fake sandbox plays the agent) and the clients
 * (`fanout-clients.ts`) run in processes of their own.
 */
export async function measureSocketFanout(options: SocketFanoutOptions = {}): Promise<SocketFanoutResult> {
  const clients = options.clients ?? 500;
  const deltas = options.deltas ?? 500;
  const intervalMs = options.intervalMs ?? 10;
  const processes = options.clientProcesses ?? 2;
  const batch = options.batch ?? true;
  const env = { ...process.env, FANOUT_DELTAS: String(deltas), FANOUT_INTERVAL_MS: String(intervalMs) };
  // BENCH_SERVE_NODE_ARGS: options for the server's node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = process.env.BENCH_SERVE_NODE_ARGS?.split(" ").filter((arg) => arg !== "") ?? [];
  const server = fork(SERVER, [], { env, execArgv: ["--import", "tsx", ...nodeArgs], stdio: "inherit" });
  const workers: ChildProcess[] = [];
  try {
    const { url } = await nextMessage<{ url: string }>(server, "url");
    const created = await fetch(`${url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "bench" }),
    });
    const { sessionId } = (await created.json()) as { sessionId: string };
    for (let index = 0; index < processes; index++) {
      const share = Math.floor(clients / processes) + (index < clients % processes ? 1 : 0);
      workers.push(
        fork(CLIENTS, [], {
          env: {
            ...env,
            FANOUT_URL: url,
            FANOUT_SESSION: sessionId,
            FANOUT_CLIENTS: String(share),
            FANOUT_BATCH: batch ? "1" : "0",
          },
          execArgv: ["--import", "tsx"],
          stdio: "inherit",
        }),
      );
    }
    await Promise.all(workers.map((worker) => nextMessage(worker, "ready")));
    server.send("reset");
    const sent = await fetch(`${url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "Stream" }),
    });
    if (sent.status !== 202) throw new Error(`message refused: ${sent.status} ${await sent.text()}`);
    // The stream, then time for the last deltas to arrive.
    await waitForTurnEnd(url, sessionId, deltas * intervalMs + 120_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    server.send("report");
    const { loopDelayMs } = await nextMessage<{ loopDelayMs: SocketFanoutResult["loopDelayMs"] }>(
      server,
      "loopDelayMs",
    );
    const reports = await Promise.all(
      workers.map((worker) => {
        const report = nextMessage<{ latencies: (number | null)[][] }>(worker, "latencies");
        worker.send("report");
        return report;
      }),
    );
    const perClient = reports.flatMap((report) => report.latencies);
    const tenth = Math.max(1, Math.floor(deltas / 10));
    const arrived = (from: number, to: number) =>
      perClient.flatMap((values) =>
        values.slice(from, to).flatMap((value) => (value === null ? [] : [Math.max(0, value)])),
      );
    const missing = perClient.reduce(
      (sum, values) => sum + values.filter((value) => value === null).length,
      0,
    );
    return {
      clients,
      deltas,
      intervalMs,
      batch,
      latencyMs: summarize(arrived(0, deltas)),
      firstTenthMs: summarize(arrived(0, tenth)),
      lastTenthMs: summarize(arrived(deltas - tenth, deltas)),
      missing,
      loopDelayMs,
    };
  } finally {
    for (const worker of workers) worker.kill();
    server.kill("SIGTERM");
  }
}

export function printSocketFanout(result: SocketFanoutResult): void {
  const rate = 1000 / result.intervalMs;
  console.log(
    `  ${result.clients} clients, ${result.deltas} deltas at ${rate}/s${result.batch ? ", batching clients" : ""}`,
  );
  console.log(`  delivery (agent → client): ${formatSummary(result.latencyMs)}`);
  console.log(`  first tenth of the stream: ${formatSummary(result.firstTenthMs)}`);
  console.log(`  last tenth of the stream:  ${formatSummary(result.lastTenthMs)}`);
  console.log(`  deltas missing: ${result.missing}`);
  const loop = result.loopDelayMs;
  console.log(
    `  server event-loop delay: p50 ${loop.p50.toFixed(1)} ms, p99 ${loop.p99.toFixed(1)} ms, max ${loop.max.toFixed(1)} ms`,
  );
}

/** The next IPC message of `child` that has `key`; rejects when the child exits first. */
function nextMessage<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (typeof message === "object" && message !== null && key in message) {
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(message as T);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`a bench process exited (${code}) before "${key}"`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

async function waitForTurnEnd(url: string, sessionId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // The turn has started once the message is accepted; it ends when the session is no longer busy.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (;;) {
    const session = (await (await fetch(`${url}/sessions/${sessionId}?blocksLimit=0`)).json()) as {
      runtime: { busy: boolean };
    };
    if (!session.runtime.busy) return;
    if (Date.now() > deadline) throw new Error("the streaming turn did not end in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
