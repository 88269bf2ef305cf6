import {
  type RunnerCommand,
  type RunnerConfigInput,
  type RunnerOutput,
  runnerOutputSchema,
} from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";
import type { ExitStatus, Sandbox, SandboxProcess } from "../sandboxes/sandbox-provider.js";
import { BoundedLineReader } from "./bounded-line-reader.js";
import type { RunnerLimits } from "./runner-limits.js";
import { type DroppedLines, RunnerRateLimiter } from "./runner-rate-limiter.js";

export interface RunnerHandlers {
  /** Every valid line in order but the first `ready` and a `fatal` before it; `log` lines within their rate. */
  onOutput(output: RunnerOutput): void;
  /** A line that is not valid protocol (blank ones too), within its rate (for logging; see `RunnerLimits`). */
  onInvalidLine?(line: string): void;
  /** Lines dropped by the rate limits since the last call (at most every few seconds). */
  onDropped?(dropped: DroppedLines): void;
  /**
   * The sandbox broke the protocol past its limits (see `RunnerLimits`) after
   * `ready`; the runner is being killed and `onExit` follows. Before `ready`,
   * `start` rejects with `RUNNER_PROTOCOL` instead. Called at most once,
   * with a message for the session's user.
   */
  onViolation?(message: string): void;
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
 * when it exits or stays silent before that, or with `RUNNER_PROTOCOL` when
 * it broke the protocol past its limits before that.
 *
 * Its stdout is hostile input: lines are read within `limits.maxLineBytes`,
 * validated, and rate-limited; a line too long or a flood past its budget
 * is a violation, after which nothing more is delivered and the runner is killed.
 */
export class RunnerConnection {
  private process: SandboxProcess | undefined;
  private exitedFlag = false;
  private violationMessage: string | undefined;
  pid: number | undefined;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly handlers: RunnerHandlers,
    private readonly limits: RunnerLimits,
  ) {}

  get exited(): boolean {
    return this.exitedFlag;
  }

  /** Why the runner was stopped for breaking the protocol, if it was. */
  get violation(): string | undefined {
    return this.violationMessage;
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
      let isReady = false;
      const violate = (message: string) => {
        if (this.violationMessage !== undefined) return;
        this.violationMessage = message;
        proc.kill("SIGKILL");
        if (isReady) {
          this.handlers.onViolation?.(message);
          return;
        }
        clearTimeout(timer);
        reject(new RuntimeError("RUNNER_PROTOCOL", message));
      };
      const limiter = new RunnerRateLimiter(this.limits, {
        onDropped: (dropped) => this.handlers.onDropped?.(dropped),
        onViolation: violate,
      });
      const onLine = (line: string) => {
        if (this.violationMessage !== undefined) return;
        const output = parseLine(line);
        if (!output) {
          if (limiter.admitInvalid()) this.handlers.onInvalidLine?.(line);
          return;
        }
        if (output.type === "log" && !limiter.admitLog()) return;
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
      };
      const lines = new BoundedLineReader({
        maxLineBytes: this.limits.maxLineBytes,
        onLine,
        onOversize: () =>
          violate(
            `The sandbox wrote a line over ${formatBytes(this.limits.maxLineBytes)} to the runner channel; the agent was stopped`,
          ),
      });
      // Each chunk is handled before the next is read, so a runner writing faster than this
      // blocks on its own pipe. After a violation the rest is drained unread until the exit.
      proc.stdout.on("data", (chunk: Buffer) => {
        if (this.violationMessage === undefined) lines.push(chunk);
      });
      proc.stdout.once("end", () => lines.end());
      void proc.exited.then((status) => {
        limiter.close();
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

/** `16 MiB`, `64 KiB`, or a number of bytes. */
function formatBytes(bytes: number): string {
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10} KiB`;
  return `${bytes} bytes`;
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
