import { Worker } from "node:worker_threads";

/** What a health monitor saw. */
export interface HealthReport {
  /** Milliseconds per `GET /health`, in order. */
  readonly latencies: number[];
  /** Answers other than 200, and requests that failed. */
  readonly failures: string[];
}

/** Runs in the worker: `GET /health` every `intervalMs` until told to stop, then posts its report. */
const probeLoop = `
const { parentPort, workerData } = require("node:worker_threads");
const { url, intervalMs } = workerData;
const latencies = [];
const failures = [];
let stopping = false;
parentPort.on("message", () => { stopping = true; });
(async () => {
  while (!stopping) {
    const at = performance.now();
    try {
      const response = await fetch(url + "/health", { signal: AbortSignal.timeout(10000) });
      await response.arrayBuffer();
      latencies.push(performance.now() - at);
      if (response.status !== 200) failures.push("status " + response.status);
    } catch (error) {
      failures.push(String(error));
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  parentPort.postMessage({ latencies, failures });
})();
`;

/**
 * Probes `GET /health` from a worker thread (its own event loop and
 * connection), so that what the test does meanwhile on the main thread does
 * not count in the server's latency. `stop()` ends the probing and resolves
 * with what it saw.
 */
export function startHealthMonitor(url: string, intervalMs = 20): { stop(): Promise<HealthReport> } {
  const worker = new Worker(probeLoop, { eval: true, workerData: { url, intervalMs } });
  const report = new Promise<HealthReport>((resolve, reject) => {
    worker.once("message", (message: HealthReport) => resolve(message));
    worker.once("error", reject);
  });
  return {
    async stop() {
      worker.postMessage("stop");
      const result = await report;
      await worker.terminate();
      return result;
    },
  };
}
