import { createInterface } from "node:readline";
import {
  type RunnerCommand,
  type RunnerConfigInput,
  type RunnerOutput,
  runnerOutputSchema,
} from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";
import type { ExitStatus, Sandbox, SandboxProcess } from "../sandboxes/sandbox-provider.js";

export interface RunnerHandlers {
  /** Every valid line after `ready`, in order. */
  onOutput(output: RunnerOutput): void;
  /** A line that is not valid protocol (logged, never fatal). */
  onInvalidLine?(line: string): void;
  /** stderr text of the runner and the agent. */
  onStderr?(text: string): void;
  /** The runner process exited (after its last output line was delivered). */
  onExit(status: ExitStatus): void;
}

/** Where the runtime writes the runner's configuration inside the sandbox. */
export function runnerConfigPath(sandbox: Sandbox): string {
  return `${sandbox.homeDir}/.agent-runtime/runner.json`;
}

/**
 * One runner process inside a sandbox, spoken to in JSON lines. `start`
 * resolves once the runner reported `ready` and rejects with `AGENT_FAILED`
 * when it exits or stays silent before that.
 */
export class RunnerConnection {
  private process: SandboxProcess | undefined;
  private exitedFlag = false;
  pid: number | undefined;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly handlers: RunnerHandlers,
  ) {}

  get exited(): boolean {
    return this.exitedFlag;
  }

  async start(
    config: RunnerConfigInput,
    env: Record<string, string>,
    options: {
      readyTimeoutMs?: number;
      /** Called once the process runs: commands sent from here on are read as the agent starts. */
      onSpawned?: () => void;
    } = {},
  ): Promise<void> {
    const configPath = runnerConfigPath(this.sandbox);
    await this.sandbox.writeFiles([{ path: configPath, content: JSON.stringify(config), readOnly: true }]);
    const proc = this.sandbox.exec([...this.sandbox.runnerCommand, configPath], {
      cwd: this.sandbox.workspaceDir,
      env,
    });
    this.process = proc;
    options.onSpawned?.();
    proc.stdin.on("error", () => {
      // The runner may exit while we write; the exit handler reports it.
    });
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk: string) => this.handlers.onStderr?.(chunk));

    let stderrTail = "";
    proc.stderr.on("data", (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-2000);
    });

    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RuntimeError("AGENT_FAILED", "The agent runner did not become ready in time"));
        proc.kill("SIGKILL");
      }, options.readyTimeoutMs ?? 60_000);
      const lines = createInterface({ input: proc.stdout, crlfDelay: Number.POSITIVE_INFINITY });
      let isReady = false;
      lines.on("line", (line) => {
        if (line.trim() === "") return;
        const output = parseLine(line);
        if (!output) {
          this.handlers.onInvalidLine?.(line);
          return;
        }
        if (!isReady && output.type === "ready") {
          isReady = true;
          this.pid = output.pid;
          clearTimeout(timer);
          resolve();
          return;
        }
        if (!isReady && output.type === "fatal") {
          clearTimeout(timer);
          reject(new RuntimeError("AGENT_FAILED", `The agent runner failed to start: ${output.message}`));
          return;
        }
        this.handlers.onOutput(output);
      });
      void proc.exited.then((status) => {
        lines.close();
        this.exitedFlag = true;
        clearTimeout(timer);
        if (!isReady) {
          reject(
            new RuntimeError(
              "AGENT_FAILED",
              `The agent runner exited before it was ready (code ${status.code}, signal ${status.signal}): ${stderrTail.trim().slice(-500)}`,
            ),
          );
          return;
        }
        this.handlers.onExit(status);
      });
    });
    await ready;
  }

  /** Sends a command; returns false when the runner is gone. */
  send(command: RunnerCommand): boolean {
    const proc = this.process;
    if (!proc || this.exitedFlag || proc.stdin.destroyed) return false;
    proc.stdin.write(`${JSON.stringify(command)}\n`);
    return true;
  }

  /** Asks the runner to exit, and kills it when it has not within `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    const proc = this.process;
    if (!proc || this.exitedFlag) return;
    this.send({ type: "shutdown" });
    proc.stdin.end();
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.process?.kill("SIGKILL");
  }
}

function parseLine(line: string): RunnerOutput | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const result = runnerOutputSchema.safeParse(value);
  return result.success ? result.data : undefined;
}
