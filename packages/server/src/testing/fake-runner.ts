import { posix } from "node:path";
import {
  type RunnerCommand,
  type RunnerConfig,
  type RunnerOutput,
  runnerCommandSchema,
  type TurnStopReason,
} from "@agent-runtime/protocol";
import { errorMessage } from "../errors.js";
import type { ExitStatus, Sandbox } from "../sandboxes/sandbox-provider.js";
import type { FakeProcess } from "./fake-process.js";

/** The sandbox of a fake runner (a `FakeSandbox`): a `Sandbox` whose files a test can see. */
export interface FakeRunnerSandbox extends Sandbox {
  /** Every file, by absolute path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Every symbolic link, by absolute path, to its target. */
  readonly links: ReadonlyMap<string, string>;
  /** Reports a resource limit to the sandbox's `onLimit` listeners. */
  hitLimit(limit: "memory" | "pids"): void;
}

/**
 * What a fake runner does with each `message` command. The turn ends with
 * `turn_end` when the returned promise settles: `interrupted` when the server
 * interrupted it, `error` (with the message) when the script threw, else
 * `end_turn`; unless the script ended it itself (`turn.end`) or ended the
 * process (`turn.runner.exit`).
 */
export type FakeRunnerScript = (turn: FakeTurn) => void | Promise<void>;

/** The server's answer to a permission request, as the runner receives it. */
export interface FakePermissionAnswer {
  readonly decision: "allow" | "deny";
  readonly message?: string;
}

/** What a fake runner asks permission for (`permission_request` without its id). */
export interface FakePermissionRequest {
  readonly toolName: string;
  /** @default {} */
  readonly input?: unknown;
  readonly toolUseId?: string;
  readonly title?: string;
}

/**
 * A runner played in process: it speaks the runner protocol over a
 * `FakeProcess` of a `FakeSandbox` (JSON-line commands read from stdin,
 * JSON-line output written to stdout), so the server's runner connection and
 * its validation run as with a real runner. It writes `ready` right after it
 * starts, runs each message through its script, and exits with code 0 on
 * `shutdown` or the end of its stdin. As the protocol says, it holds one
 * turn at a time (a `message` while a turn is open gets a `turn_end` with
 * `error` at once) and ignores `interrupt` when no turn is open; invalid
 * commands get an `error` log line, as from the real runner.
 */
export class FakeRunner {
  /** Every valid command received, in order. */
  readonly commands: RunnerCommand[] = [];
  private current: RunningTurn | undefined;
  private stdinBuffer = "";
  private requests = 0;

  constructor(
    /** The sandbox the runner runs in. */
    readonly sandbox: FakeRunnerSandbox,
    /** Its configuration, as the server wrote it (validated). */
    readonly config: RunnerConfig,
    /** Its environment, as the server passed it to `exec`. */
    readonly env: Readonly<Record<string, string>>,
    private readonly process: FakeProcess,
    private readonly script: FakeRunnerScript,
  ) {
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => this.read(chunk));
    process.stdin.on("end", () => this.exit({ code: 0, signal: null }));
    queueMicrotask(() => this.send({ type: "ready", pid: process.pid }));
  }

  get pid(): number {
    return this.process.pid;
  }

  /** How the runner process ended; undefined while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.process.exitStatus;
  }

  /** The turn running now. */
  get currentTurn(): FakeTurn | undefined {
    return this.current;
  }

  /** Writes one output line; ignored after the exit. */
  send(output: RunnerOutput): void {
    this.process.writeStdout(`${JSON.stringify(output)}\n`);
  }

  /**
   * Ends the runner process with `status`, e.g. `{ code: 1, signal: null }`
   * for a crash, or `{ code: null, signal: "SIGKILL", limit: "memory" }` for
   * a process killed at the sandbox's memory limit. A running turn gets no
   * `turn_end`.
   */
  exit(status: ExitStatus): void {
    this.process.exit(status);
  }

  private read(chunk: string): void {
    this.stdinBuffer += chunk;
    let end = this.stdinBuffer.indexOf("\n");
    while (end >= 0) {
      const line = this.stdinBuffer.slice(0, end);
      this.stdinBuffer = this.stdinBuffer.slice(end + 1);
      if (line.trim() !== "") this.handle(line);
      end = this.stdinBuffer.indexOf("\n");
    }
  }

  private handle(line: string): void {
    let parsed: ReturnType<typeof runnerCommandSchema.safeParse>;
    try {
      parsed = runnerCommandSchema.safeParse(JSON.parse(line));
    } catch {
      this.send({ type: "log", level: "error", message: "ignored a command that is not JSON" });
      return;
    }
    if (!parsed.success) {
      this.send({
        type: "log",
        level: "error",
        message: `ignored an invalid command: ${parsed.error.message}`,
      });
      return;
    }
    const command = parsed.data;
    this.commands.push(command);
    switch (command.type) {
      case "message":
        this.start(command.turnId, command.content);
        return;
      case "interrupt":
        this.current?.interrupt();
        return;
      case "permission_response":
        this.current?.answer(command.requestId, {
          decision: command.decision,
          ...(command.message === undefined ? {} : { message: command.message }),
        });
        return;
      case "shutdown":
        this.exit({ code: 0, signal: null });
        return;
    }
  }

  /** Runs a turn; a message while one is open breaks the protocol and is refused at once. */
  private start(turnId: string, content: string): void {
    if (this.current) {
      this.send({ type: "turn_end", turnId, stopReason: "error", error: "A turn is already open" });
      return;
    }
    const turn = new RunningTurn(
      this,
      turnId,
      content,
      (ended) => {
        if (this.current === ended) this.current = undefined;
      },
      () => `permission-${this.pid}-${++this.requests}`,
    );
    this.current = turn;
    // Like an agent, the script answers no sooner than the next turn of the event loop.
    setImmediate(() => void this.run(turn));
  }

  private async run(turn: RunningTurn): Promise<void> {
    try {
      await this.script(turn);
      turn.end(turn.isInterrupted ? "interrupted" : "end_turn");
    } catch (error) {
      turn.end("error", errorMessage(error));
    }
  }
}

/** One message being handled by a `FakeRunner`: what its script uses to act as the agent. */
export interface FakeTurn {
  readonly runner: FakeRunner;
  readonly turnId: string;
  /** The user's message. */
  readonly content: string;
  /** Resolves when the server asks to stop this turn (`interrupt`). */
  readonly interrupted: Promise<void>;
  readonly isInterrupted: boolean;
  /** Relays native agent messages (as the architecture's agent emits them), one `agent` line each. */
  agent(...messages: unknown[]): void;
  /**
   * Writes a file into the sandbox's workspace (`path` is relative to it) and
   * reports it with a `file` line (`created` or `modified`), as the runner's
   * watcher does for the agent's writes.
   */
  writeFile(path: string, content: string | Uint8Array): Promise<void>;
  /** Deletes a workspace file and reports it with a `file` line (`deleted`). */
  deleteFile(path: string): Promise<void>;
  /** Makes `path` a symbolic link to `target` and reports it with a `file` line carrying `linkTarget`. */
  writeLink(path: string, target: string): Promise<void>;
  /**
   * Writes a `permission_request` and resolves with the server's
   * `permission_response`. Open requests are denied when the turn is
   * interrupted or ends, as the real runner does.
   */
  askPermission(request: FakePermissionRequest): Promise<FakePermissionAnswer>;
  /** Ends the turn with `turn_end` now. Only the first call counts. */
  end(stopReason?: TurnStopReason, error?: string): void;
}

class RunningTurn implements FakeTurn {
  readonly interrupted: Promise<void>;
  private interruptRequested = false;
  private resolveInterrupted: () => void = () => undefined;
  private ended = false;
  private readonly openRequests = new Map<string, (answer: FakePermissionAnswer) => void>();

  constructor(
    readonly runner: FakeRunner,
    readonly turnId: string,
    readonly content: string,
    private readonly onEnd: (turn: RunningTurn) => void,
    private readonly nextRequestId: () => string,
  ) {
    this.interrupted = new Promise((resolve) => {
      this.resolveInterrupted = resolve;
    });
  }

  get isInterrupted(): boolean {
    return this.interruptRequested;
  }

  agent(...messages: unknown[]): void {
    for (const message of messages) this.runner.send({ type: "agent", message });
  }

  async writeFile(path: string, content: string | Uint8Array): Promise<void> {
    const { sandbox } = this.runner;
    const absolute = posix.join(sandbox.workspaceDir, path);
    const known = sandbox.files.has(absolute);
    await sandbox.writeFiles([{ path: absolute, content }]);
    this.runner.send({
      type: "file",
      event: known ? "modified" : "created",
      path,
      size: sandbox.files.get(absolute)?.byteLength ?? 0,
      modifiedAt: new Date().toISOString(),
    });
  }

  async writeLink(path: string, target: string): Promise<void> {
    const { sandbox } = this.runner;
    const absolute = posix.join(sandbox.workspaceDir, path);
    const known = sandbox.files.has(absolute) || sandbox.links.has(absolute);
    await sandbox.writeFiles([{ path: absolute, content: "", linkTarget: target }]);
    this.runner.send({
      type: "file",
      event: known ? "modified" : "created",
      path,
      size: Buffer.byteLength(target),
      modifiedAt: new Date().toISOString(),
      linkTarget: target,
    });
  }

  async deleteFile(path: string): Promise<void> {
    await this.runner.sandbox.deleteFile(posix.join(this.runner.sandbox.workspaceDir, path));
    this.runner.send({ type: "file", event: "deleted", path });
  }

  askPermission(request: FakePermissionRequest): Promise<FakePermissionAnswer> {
    const requestId = this.nextRequestId();
    const answer = new Promise<FakePermissionAnswer>((resolve) => {
      this.openRequests.set(requestId, resolve);
    });
    this.runner.send({ type: "permission_request", requestId, input: {}, ...request });
    return answer;
  }

  end(stopReason: TurnStopReason = "end_turn", error?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.denyOpenRequests("The turn ended before the request was answered");
    // Closed before it is reported: the server may send the next message as it reads `turn_end`.
    this.onEnd(this);
    this.runner.send({ type: "turn_end", turnId: this.turnId, stopReason, ...(error ? { error } : {}) });
  }

  interrupt(): void {
    if (this.ended) return;
    this.interruptRequested = true;
    this.denyOpenRequests("The turn was interrupted");
    this.resolveInterrupted();
  }

  /** Unknown or already answered ids are ignored. */
  answer(requestId: string, answer: FakePermissionAnswer): void {
    const resolve = this.openRequests.get(requestId);
    this.openRequests.delete(requestId);
    resolve?.(answer);
  }

  private denyOpenRequests(message: string): void {
    for (const requestId of [...this.openRequests.keys()])
      this.answer(requestId, { decision: "deny", message });
  }
}
