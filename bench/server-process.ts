import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../packages/server/dist/cli/main.js", import.meta.url));

export interface ServeProcess {
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops it (SIGTERM) and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * `agent-runtime serve` from the build in its own process (so its memory is
 * measured alone): SQLite and local sandboxes in `dataDir`, a `bench`
 * profile, a random port, the model at `modelUrl`, no idle teardown, and
 * `env` and `args` on top (e.g. `AGENT_RUNTIME_*` settings, `--port`).
 */
export async function startServeProcess(
  dataDir: string,
  modelUrl: string,
  env: Readonly<Record<string, string>> = {},
  args: readonly string[] = [],
): Promise<ServeProcess> {
  const profiles = join(dataDir, "profiles");
  await mkdir(join(profiles, "bench"), { recursive: true });
  await writeFile(join(profiles, "bench", "profile.json"), JSON.stringify({ id: "bench", name: "Bench" }));
  const child = spawn(
    process.execPath,
    [
      // BENCH_SERVE_NODE_ARGS: options for the server's node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
      ...(process.env.BENCH_SERVE_NODE_ARGS?.split(" ").filter((arg) => arg !== "") ?? []),
      CLI,
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--profiles-dir",
      profiles,
      "--idle-timeout",
      "0",
      ...args,
    ],
    {
      env: {
        ...Object.fromEntries(
          Object.entries(process.env).filter(
            ([name]) => !/^(AGENT_RUNTIME_|ANTHROPIC_|MODAL_|DATABASE_URL$)/.test(name),
          ),
        ),
        ANTHROPIC_BASE_URL: modelUrl,
        ANTHROPIC_API_KEY: "bench",
        LOG_FORMAT: "json",
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.once("exit", () => reject(new Error(`The server exited before listening:\n${output}`)));
  });
  return {
    url,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/** Resets the process's peak resident set (`VmHWM`) to its current one. */
export async function resetPeakMemory(child: ChildProcess): Promise<void> {
  await writeFile(`/proc/${child.pid}/clear_refs`, "5");
}

/** The process's resident set now and its peak (since start or `resetPeakMemory`), in bytes. */
export async function processMemory(child: ChildProcess): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${child.pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") * 1024, peak: kb("VmHWM") * 1024 };
}
