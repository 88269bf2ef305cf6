import { spawn } from "node:child_process";

/** Times `GET <url>/health` every 5 ms until its stdin closes, then prints when each began and took (ms) as JSON. */
const PROBE = `
const url = process.argv[1];
const probes = [];
const failures = [];
let stopping = false;
process.stdin.on("end", () => { stopping = true; });
process.stdin.resume();
while (!stopping) {
  const at = Date.now();
  const started = performance.now();
  try {
    const response = await fetch(url + "/health");
    await response.arrayBuffer();
    if (response.status !== 200) failures.push(response.status);
  } catch (error) {
    failures.push(String(error));
  }
  probes.push({ at, ms: performance.now() - started });
  await new Promise((resolve) => setTimeout(resolve, 5));
}
process.stdout.write(JSON.stringify({ probes, failures }));
`;

export interface HealthProbes {
  /** Each probe: when it began (epoch ms) and how long it took (ms). */
  readonly probes: ReadonlyArray<{ readonly at: number; readonly ms: number }>;
  /** The answers that were not 200, and the requests that failed. */
  readonly failures: readonly unknown[];
}

export interface HealthProbeProcess {
  /** Stops probing; resolves with every probe. */
  stop(): Promise<HealthProbes>;
}

/**
 * Probes a server's `/health` from a process of its own, so what a test does
 * meanwhile (e.g. flooding the server from its own event loop) does not skew
 * the figures.
 */
export function startHealthProbeProcess(url: string): HealthProbeProcess {
  const child = spawn(process.execPath, ["--input-type=module", "-e", PROBE, url], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    async stop() {
      child.stdin.end();
      await exited;
      return JSON.parse(output) as HealthProbes;
    },
  };
}
