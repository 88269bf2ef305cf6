import { setTimeout as delay } from "node:timers/promises";
import { expect } from "vitest";

/**
 * Times `GET /health` over and over, 5 ms apart, until `done()` or
 * `timeoutMs`, and expects every answer to be 200. Returns the latencies in ms.
 */
export async function probeHealth(url: string, done: () => boolean, timeoutMs = 60_000): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) {
    const at = performance.now();
    const health = await fetch(`${url}/health`);
    await health.arrayBuffer();
    latencies.push(performance.now() - at);
    expect(health.status).toBe(200);
    await delay(5);
  }
  return latencies;
}
