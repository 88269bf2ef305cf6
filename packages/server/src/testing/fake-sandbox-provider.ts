import { type RunnerConfig, runnerConfigSchema } from "@agent-runtime/protocol";
import { errorMessage, RuntimeError } from "../errors.js";
import { resolveAreaPath } from "../sandboxes/area-path.js";
import { bytesFileReader } from "../sandboxes/bytes-file-reader.js";
import { readFilesOneByOne } from "../sandboxes/read-files-one-by-one.js";
import type {
  ExecOptions,
  ReadFilesOptions,
  Sandbox,
  SandboxCapabilities,
  SandboxFile,
  SandboxFileRead,
  SandboxFileReader,
  SandboxProcess,
  SandboxProvider,
  SandboxSpec,
  WorkspaceEntry,
} from "../sandboxes/sandbox-provider.js";
import { FakeProcess } from "./fake-process.js";
import { FakeRunner, type FakeRunnerScript } from "./fake-runner.js";

export interface FakeSandboxProviderOptions {
  /**
   * What the runner of every sandbox does with each message (see `FakeRunnerScript`).
   * @default ends each turn at once with `end_turn`
   */
  readonly runner?: FakeRunnerScript;
  /**
   * A new sandbox starts with the workspace and home the last one of its
   * name left (until `remove`), as providers with a persistent disk do.
   * @default false
   */
  readonly keepWorkspace?: boolean;
}

/** An operation of the fake provider that a test can make fail once (`FakeSandboxProvider.fail`). */
export type FakeSandboxOperation = "create" | "writeFiles";

/**
 * A `SandboxProvider` that keeps everything in process memory, for testing
 * the runtime (or an application on it) without sandboxes: files live in a
 * map, and running the sandbox's `runnerCommand` starts a `FakeRunner` that
 * plays the agent by script. It records every sandbox it created, in order.
 * Any other command exits at once with code 127.
 */
export class FakeSandboxProvider implements SandboxProvider {
  readonly id = "fake";
  readonly capabilities: SandboxCapabilities = {
    attach: false,
    nonRootUser: false,
    readOnlySystem: false,
    networkPolicy: false,
    resourceLimits: { pids: true, memory: true, disk: false },
  };
  /** Every sandbox created, in order (terminated ones too). */
  readonly sandboxes: FakeSandbox[] = [];
  /** Every name passed to `remove`, in order. */
  readonly removed: string[] = [];
  private readonly failures = new Map<FakeSandboxOperation, Error>();

  constructor(
    private readonly script: FakeRunnerScript,
    private readonly keepWorkspace = false,
  ) {}

  async check(): Promise<void> {}

  /**
   * Starts an empty sandbox. Throws `CONFLICT` while a sandbox of the same
   * name runs (the provider cannot take one over), or the injected failure.
   */
  async create(spec: SandboxSpec): Promise<FakeSandbox> {
    this.takeFailure("create");
    if (this.sandboxes.some((sandbox) => sandbox.name === spec.name && !sandbox.isTerminated)) {
      throw new RuntimeError("CONFLICT", `Sandbox ${spec.name} is still running`);
    }
    const sandbox = new FakeSandbox(`fake-${this.sandboxes.length + 1}`, spec, this.script, (operation) =>
      this.takeFailure(operation),
    );
    const previous = this.sandboxes.findLast((earlier) => earlier.name === spec.name);
    if (this.keepWorkspace && previous && !this.removed.includes(spec.name)) {
      for (const [path, content] of previous.files) sandbox.files.set(path, content);
      for (const [path, target] of previous.links) sandbox.links.set(path, target);
    }
    this.sandboxes.push(sandbox);
    return sandbox;
  }

  /** Terminates the sandboxes named `name` and forgets their workspace. */
  async remove(name: string): Promise<void> {
    this.removed.push(name);
    await Promise.all(this.sandboxes.filter((sandbox) => sandbox.name === name).map((s) => s.terminate()));
  }

  /** The last sandbox created; throws when there is none. */
  get lastSandbox(): FakeSandbox {
    const sandbox = this.sandboxes.at(-1);
    if (!sandbox) throw new Error("No fake sandbox was created");
    return sandbox;
  }

  /**
   * Makes the next call of `operation` (on the provider, or on any of its
   * sandboxes) reject with `error`.
   */
  fail(
    operation: FakeSandboxOperation,
    error: Error = new RuntimeError("SANDBOX_FAILED", `Injected ${operation} failure`),
  ): void {
    this.failures.set(operation, error);
  }

  private takeFailure(operation: FakeSandboxOperation): void {
    const error = this.failures.get(operation);
    if (!error) return;
    this.failures.delete(operation);
    throw error;
  }
}

/**
 * A sandbox of a `FakeSandboxProvider`. Files are bytes in `files`, keyed by
 * absolute path; paths outside `workspaceDir` and `homeDir` are refused with
 * `INVALID_PATH`, as every provider does. Files stay readable after
 * `terminate()`; starting processes does not.
 */
export class FakeSandbox implements Sandbox {
  readonly workspaceDir = "/workspace";
  readonly homeDir = "/home/agent";
  readonly runnerCommand = ["agent-runtime-runner"] as const;
  /** Every file, by absolute path. A test may read and change it directly. */
  readonly files = new Map<string, Uint8Array>();
  /** Every symbolic link, by absolute path, to its target (never followed). */
  readonly links = new Map<string, string>();
  /** Every runner started in this sandbox, in order. */
  readonly runners: FakeRunner[] = [];
  readonly terminated: Promise<void>;
  private readonly processes = new Set<FakeProcess>();
  private readonly limitListeners = new Set<(limit: "memory" | "pids") => void>();
  private resolveTerminated: () => void = () => undefined;
  private isStopped = false;
  private nextPid = 100;

  constructor(
    readonly id: string,
    /** What the sandbox was created with. */
    readonly spec: SandboxSpec,
    private readonly script: FakeRunnerScript,
    /** Throws the failure injected for `operation`, once. */
    private readonly takeFailure: (operation: FakeSandboxOperation) => void,
  ) {
    this.terminated = new Promise((resolve) => {
      this.resolveTerminated = resolve;
    });
  }

  get name(): string {
    return this.spec.name;
  }

  /** True once `terminate()` was called. */
  get isTerminated(): boolean {
    return this.isStopped;
  }

  /** The last runner started; throws when there is none. */
  get lastRunner(): FakeRunner {
    const runner = this.runners.at(-1);
    if (!runner) throw new Error(`No runner was started in fake sandbox ${this.id}`);
    return runner;
  }

  /**
   * Runs the runner when `command` is `runnerCommand` followed by the path of
   * its configuration file (which must hold a valid runner configuration,
   * else the runner writes `fatal` and exits with code 1). Throws
   * `SANDBOX_FAILED` after `terminate()`.
   */
  exec(command: readonly string[], options: ExecOptions = {}): SandboxProcess {
    if (this.isStopped) throw new RuntimeError("SANDBOX_FAILED", `Sandbox ${this.id} is terminated`);
    const process = new FakeProcess(this.nextPid++);
    this.processes.add(process);
    void process.exited.then(() => this.processes.delete(process));
    const isRunner =
      command.length === this.runnerCommand.length + 1 &&
      this.runnerCommand.every((part, index) => command[index] === part);
    if (!isRunner) {
      process.stderr.write(`${command[0] ?? ""}: command not found\n`);
      process.exit({ code: 127, signal: null });
      return process;
    }
    let config: RunnerConfig;
    try {
      const text = new TextDecoder().decode(this.files.get(command.at(-1) ?? ""));
      config = runnerConfigSchema.parse(JSON.parse(text));
    } catch (error) {
      process.writeStdout(
        `${JSON.stringify({ type: "fatal", message: `invalid runner configuration: ${errorMessage(error)}` })}\n`,
      );
      process.exit({ code: 1, signal: null });
      return process;
    }
    const env = { ...this.spec.env, ...options.env };
    this.runners.push(new FakeRunner(this, config, env, process, this.script));
    return process;
  }

  async writeFiles(files: readonly SandboxFile[]): Promise<void> {
    this.takeFailure("writeFiles");
    const resolved = files.map((file) => ({ ...file, path: this.resolve(file.path) }));
    for (const { path, content, linkTarget } of resolved) {
      if (linkTarget !== undefined) {
        this.files.delete(path);
        this.links.set(path, linkTarget);
        continue;
      }
      this.links.delete(path);
      this.files.set(path, typeof content === "string" ? new TextEncoder().encode(content) : content.slice());
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    const content = this.files.get(this.resolve(path));
    if (!content) throw new RuntimeError("FILE_NOT_FOUND", `File ${path} not found`);
    return content.slice();
  }

  readFiles(paths: readonly string[], options?: ReadFilesOptions): AsyncIterable<SandboxFileRead> {
    return readFilesOneByOne(this, paths, options);
  }

  async openFile(path: string): Promise<SandboxFileReader> {
    return bytesFileReader(await this.readFile(path));
  }

  /** Collects `source`, then stores it: a failing source leaves the earlier file. */
  async writeFileFrom(path: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.resolve(path);
    const chunks: Uint8Array[] = [];
    for await (const chunk of source) chunks.push(chunk);
    this.files.set(target, new Uint8Array(Buffer.concat(chunks)));
  }

  async listWorkspace(): Promise<WorkspaceEntry[]> {
    const prefix = `${this.workspaceDir}/`;
    const modifiedAt = new Date().toISOString();
    const files = [...this.files].map(([path, content]) => ({ path, size: content.byteLength, modifiedAt }));
    const links = [...this.links].map(([path, linkTarget]) => ({
      path,
      size: Buffer.byteLength(linkTarget),
      modifiedAt,
      linkTarget,
    }));
    return [...files, ...links]
      .filter(({ path }) => path.startsWith(prefix))
      .map((entry) => ({ ...entry, path: entry.path.slice(prefix.length) }))
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  async deleteFile(path: string): Promise<void> {
    this.files.delete(this.resolve(path));
    this.links.delete(this.resolve(path));
  }

  /** Kills every process (`SIGKILL`) and resolves `terminated`. Idempotent. */
  async terminate(): Promise<void> {
    if (!this.isStopped) {
      this.isStopped = true;
      for (const process of this.processes) process.kill("SIGKILL");
      this.limitListeners.clear();
      this.resolveTerminated();
    }
    await this.terminated;
  }

  onLimit(listener: (limit: "memory" | "pids") => void): () => void {
    this.limitListeners.add(listener);
    return () => this.limitListeners.delete(listener);
  }

  /**
   * Reports that a process of the sandbox hit `limit`, as a provider's limit
   * watch does. To have the runner killed for it too, follow with
   * `runner.exit({ code: null, signal: "SIGKILL", limit })`.
   */
  hitLimit(limit: "memory" | "pids"): void {
    for (const listener of this.limitListeners) listener(limit);
  }

  private resolve(path: string): string {
    return resolveAreaPath(this, path).path;
  }
}

/** A fake sandbox provider (see `FakeSandboxProvider`). No I/O. */
export function createFakeSandboxProvider(options: FakeSandboxProviderOptions = {}): FakeSandboxProvider {
  return new FakeSandboxProvider(options.runner ?? (() => undefined), options.keepWorkspace);
}
