import { spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TEST_PROFILE } from "./test-server.js";

const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(SERVER_DIR, "src/cli/main.ts");

export interface ServerProcessOptions {
  /** Data folder (SQLite file and sandboxes); reuse it to restart on the same data. */
  readonly dataDir: string;
  /** Anthropic-compatible endpoint the agents talk to (e.g. a mock model's URL). */
  readonly modelUrl: string;
  /** Further `serve` flags (e.g. `["--api-keys", "a,b"]`). @default [] */
  readonly args?: readonly string[];
  /** Further environment variables (e.g. the `AGENT_RUNTIME_*` settings `serve` reads). @default {} */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** Sends `signal` (SIGKILL: a crash; SIGTERM: a graceful stop) and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** What the process wrote to stdout and stderr so far (for failure messages). */
  output(): string;
}

/**
 * `agent-runtime serve` in its own process, as an operator runs it, but from
 * the TypeScript sources (through tsx, with the `@agent-runtime/source`
 * condition the tests use) so it always runs the code under test: SQLite and
 * local sandboxes in `dataDir`, the `test` profile from a profile folder in
 * it, a random port, the model at `modelUrl`, no idle teardown, the CLI's
 * default sync interval. Resolves once it listens; rejects when it exits
 * first or does not listen within 30 s.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(options.dataDir, 0o711);
  const profilesDir = join(options.dataDir, "profiles");
  await mkdir(join(profilesDir, TEST_PROFILE.id), { recursive: true });
  await writeFile(join(profilesDir, TEST_PROFILE.id, "profile.json"), JSON.stringify(TEST_PROFILE));
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--conditions=@agent-runtime/source",
      CLI,
      "serve",
      "--port",
      "0",
      "--data-dir",
      options.dataDir,
      "--profiles-dir",
      profilesDir,
      "--idle-timeout",
      "0",
      ...(options.args ?? []),
    ],
    {
      cwd: SERVER_DIR,
      env: {
        ...inheritedEnv(),
        ANTHROPIC_BASE_URL: options.modelUrl,
        ANTHROPIC_API_KEY: "test-model-key",
        LOG_FORMAT: "json",
        LOG_LEVEL: "info",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not listen within 30 s:\n${output}`)),
      30_000,
    );
    const read = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening:\n${output}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    output: () => output,
  };
}

/**
 * The test process's environment without what would configure the server
 * otherwise (its own flags and the variables `serve` reads).
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(AGENT_RUNTIME_|ANTHROPIC_|MODAL_|OPENCODE_)/.test(name) &&
        !["DATABASE_URL", "PORT", "HOST", "LOG_LEVEL", "LOG_FORMAT", "NODE_OPTIONS"].includes(name),
    ),
  );
}
