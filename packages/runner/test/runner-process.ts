import { type ChildProcess, spawn } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RunnerCommand, RunnerConfigInput, RunnerOutput } from "@agent-runtime/protocol";

/** The built runner; tests run `npx tsc -b packages/runner` first (as `npm test` does). */
export const runnerMain = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** Claude Code refuses bypassPermissions as root: tests run the runner as this uid, like the sandbox does. */
const AGENT_UID = 1000;

export interface RunnerProcess {
  readonly child: ChildProcess;
  readonly lines: RunnerOutput[];
  readonly workspaceDir: string;
  readonly homeDir: string;
  send(command: RunnerCommand): void;
  /** Resolves with the first line (at or after index `from`) matching `predicate`. */
  waitFor<T extends RunnerOutput>(predicate: (line: RunnerOutput) => line is T, from?: number): Promise<T>;
  waitFor(predicate: (line: RunnerOutput) => boolean, from?: number): Promise<RunnerOutput>;
  readonly exited: Promise<number | null>;
  stderr(): string;
  cleanup(): void;
}

/** Starts the runner like a sandbox would: own workspace and HOME, non-root uid, config file argument. */
export function startRunner(options: {
  config?: Partial<RunnerConfigInput>;
  env: Record<string, string>;
  /** Existing directories to reuse (resume tests). */
  dirs?: { workspaceDir: string; homeDir: string };
  /** The runner's entry module. @default the built runner (`runnerMain`) */
  main?: string;
  /** Options of `node`, before the entry. @default none */
  nodeOptions?: readonly string[];
}): RunnerProcess {
  const root = mkdtempSync(join(tmpdir(), "runner-test-"));
  const workspaceDir = options.dirs?.workspaceDir ?? mkdtempSync(join(root, "ws-"));
  const homeDir = options.dirs?.homeDir ?? mkdtempSync(join(root, "home-"));
  for (const dir of [root, workspaceDir, homeDir]) chownSync(dir, AGENT_UID, AGENT_UID);
  const configPath = join(root, "config.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      architecture: "claude-agent-sdk",
      workspaceDir,
      ...options.config,
    } satisfies RunnerConfigInput),
  );
  const isRoot = process.getuid?.() === 0;
  const command = isRoot
    ? [
        "setpriv",
        `--reuid=${AGENT_UID}`,
        `--regid=${AGENT_UID}`,
        "--clear-groups",
        process.execPath,
        ...(options.nodeOptions ?? []),
        options.main ?? runnerMain,
        configPath,
      ]
    : [process.execPath, ...(options.nodeOptions ?? []), options.main ?? runnerMain, configPath];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: workspaceDir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: homeDir,
      DISABLE_AUTOUPDATER: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      ...options.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: RunnerOutput[] = [];
  const listeners = new Set<() => void>();
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  createInterface({ input: child.stdout! }).on("line", (text) => {
    lines.push(JSON.parse(text) as RunnerOutput);
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    workspaceDir,
    homeDir,
    send: (cmd) => child.stdin!.write(`${JSON.stringify(cmd)}\n`),
    waitFor: (predicate: (line: RunnerOutput) => boolean, from = 0) =>
      new Promise<RunnerOutput>((resolve, reject) => {
        const check = () => {
          const found = lines.slice(from).find(predicate);
          if (found) {
            listeners.delete(check);
            resolve(found);
          }
        };
        listeners.add(check);
        void exited.then(() => {
          if (!listeners.has(check)) return;
          check();
          listeners.delete(check);
          reject(
            new Error(
              `runner exited before the expected line; last lines:\n${lines
                .slice(-3)
                .map((l) => JSON.stringify(l))
                .join("\n")}\nstderr:\n${stderr.slice(-2000)}`,
            ),
          );
        });
        check();
      }),
    exited,
    stderr: () => stderr,
    cleanup: () => {
      child.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    },
  } as RunnerProcess;
}
