import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const TARGET = fileURLToPath(new URL("./target-server.ts", import.meta.url));
/** Output kept for failure messages (the end of it). */
const KEPT_OUTPUT = 64 * 1024;

export interface HostileTarget {
  readonly url: string;
  /** Its data folder (the SQLite file and the sandboxes). */
  readonly dataDir: string;
  readonly pid: number;
  /** The server process's resident memory now, in bytes (`VmRSS`). */
  rssBytes(): Promise<number>;
  /** The end of what the process wrote (its warnings and errors). */
  output(): string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Stops it (SIGTERM, then SIGKILL after 20 s) and waits for its exit. */
  stop(): Promise<void>;
}

/** Starts `target-server.ts` in its own process (through tsx, from the sources) and waits until it listens. */
export async function startHostileTarget(): Promise<HostileTarget> {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@agent-runtime/source", TARGET], {
    cwd: SERVER_DIR,
    env: { ...process.env, TEST_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-KEPT_OUTPUT);
  };
  child.stderr.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const { url, dataDir } = await new Promise<{ url: string; dataDir: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`target did not listen within 60 s:\n${output}`)),
      60_000,
    );
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      keep(chunk);
      pending += chunk.toString("utf8");
      const line = /^\{"url":.*\}$/m.exec(pending)?.[0];
      if (line) {
        clearTimeout(timer);
        pending = "";
        resolve(JSON.parse(line) as { url: string; dataDir: string });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`target exited (${code}) before listening:\n${output}`));
    });
  });
  const pid = child.pid!;
  return {
    url,
    dataDir,
    pid,
    async rssBytes() {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
    },
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
