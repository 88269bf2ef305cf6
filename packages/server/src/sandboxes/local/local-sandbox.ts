import { spawn } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { RuntimeError } from "../../errors.js";
import { bytesFileReader } from "../bytes-file-reader.js";
import { readFilesOneByOne } from "../read-files-one-by-one.js";
import type {
  ExecOptions,
  ExitStatus,
  ReadFilesOptions,
  Sandbox,
  SandboxFile,
  SandboxFileRead,
  SandboxFileReader,
  SandboxProcess,
  WorkspaceEntry,
} from "../sandbox-provider.js";
import { bwrapArgs } from "./bwrap-args.js";
import type { SandboxCgroup } from "./cgroup-limits.js";
import type { SandboxDisk } from "./disk-image.js";
import type { EgressProxy } from "./egress-proxy.js";
import { fileHandleReader } from "./file-handle-reader.js";
import {
  deleteAreaFile,
  listAreaFiles,
  openAreaFile,
  readAreaFile,
  writeAreaFile,
  writeAreaLink,
} from "./host-file-access.js";
import type { SandboxListeners } from "./netns-listeners.js";
import type { ReadOnlyFiles } from "./read-only-files.js";
import { resolveSandboxPath, type SandboxLayout, type SandboxPath } from "./sandbox-paths.js";
import { readInitPid, sandboxProcess, signalSandbox } from "./sandbox-process.js";

/** How long `terminate()` waits for killed processes to be reaped. */
const TERMINATE_WAIT_MS = 5000;
/**
 * How often a running sandbox's cgroup counters are read for `onLimit`: a
 * report comes within a second of the kill, and a server running many
 * sandboxes reads two files per sandbox per second (at 200 ms the reads took
 * ~6% of the server's main thread while 16 sandboxes started).
 */
const LIMIT_POLL_MS = 1000;
/**
 * bwrap's `--info-fd`, `--block-fd`, `--seccomp` and `--args`, then the
 * command's stdin, stdout and stderr (see `STDIO_FDS`); the read-only mounts'
 * folder descriptors follow them.
 */
const INFO_FD = 3;
const BLOCK_FD = 4;
const SECCOMP_FD = 5;
const ARGS_FD = 6;
/**
 * Where the command's stdin, stdout and stderr reach bwrap. Not on bwrap's
 * own 0-2: bwrap's init (pid 1 of the sandbox) keeps those open for the
 * sandbox's lifetime, and it is an ordinary process of the sandbox's uid that
 * any process inside may read and write through `/proc/1/mem`; it closes
 * every other inherited descriptor, so the runner's channel lives in the
 * runner alone (which makes itself non-dumpable). `STDIO_WRAPPER` moves them
 * into place in the command.
 */
const STDIO_FDS = [7, 8, 9] as const;
const STDIO_WRAPPER = ["/bin/sh", "-c", 'exec "$@" 0<&7 1>&8 2>&9 7<&- 8>&- 9>&-', "sh"];

/** How `exec` starts processes: under bwrap (`isolation`) or, in unsafe mode, directly on the host. */
export interface LocalSandboxConfig {
  readonly id: string;
  readonly name: string;
  readonly layout: SandboxLayout;
  readonly readOnlyFiles: ReadOnlyFiles;
  readonly runnerCommand: readonly string[];
  /** Base environment of every process: PATH, HOME, LANG and the spec's env. */
  readonly env: Readonly<Record<string, string>>;
  readonly isolation?: {
    readonly bwrapPath: string;
    readonly uid: number;
    readonly gid: number;
    /** Unprivileged host uid (and gid) that bwrap, and so every process inside, runs as. */
    readonly hostUid: number;
    /** The compiled seccomp filter (`syscall-filter.ts`). */
    readonly syscallFilter: string;
    readonly hostMounts: readonly string[];
    readonly passwdFile: string;
    readonly groupFile: string;
    /** Size limit of `/tmp`. */
    readonly tmpSizeBytes: number;
    /** Further bwrap mounts: the sandbox's layer, or a layer build's folders. */
    readonly extraMounts?: readonly string[];
    /** Every process of the sandbox runs in these cgroups (pids and memory limits). */
    readonly cgroup?: SandboxCgroup;
    /** The mounted disk image holding workspace and home (`"image"` storage), unmounted at terminate. */
    readonly disk?: SandboxDisk;
    /**
     * Network policy: own namespace with `/etc/hosts`, the egress proxy, and
     * `listen`, which opens the allowed endpoints' listeners in the namespace
     * of a sandbox process (its init's host pid) before anything runs in it.
     */
    readonly network?: {
      readonly hostsFile: string;
      readonly proxy: EgressProxy;
      listen(pid: number): Promise<SandboxListeners>;
    };
  };
  /** Called once, when the sandbox has terminated. */
  readonly onTerminated: () => void;
  /**
   * Moves the sandbox's folder to the name `to` (see `Sandbox.rename`) and
   * returns what changed with it; throws `CONFLICT` before moving anything.
   */
  readonly rename?: (current: LocalSandboxConfig, to: string) => Promise<LocalSandboxMove>;
}

/** What a sandbox's config holds that names its folder, as `LocalSandboxConfig.rename` makes it anew. */
export type LocalSandboxMove = Pick<LocalSandboxConfig, "name" | "layout" | "readOnlyFiles" | "isolation">;

/** One sandbox folder and the processes started in it. Created by `createLocalSandboxProvider`. */
export class LocalSandbox implements Sandbox {
  readonly id: string;
  readonly workspaceDir: string;
  readonly homeDir: string;
  readonly runnerCommand: readonly string[];
  readonly terminated: Promise<void>;

  private readonly processes = new Set<SandboxProcess>();
  private readonly limitListeners = new Set<(limit: "memory" | "pids") => void>();
  private limitPoll: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** The last `suspend` or `resume`, which the next one follows. */
  private freezing: Promise<unknown> = Promise.resolve();
  private suspended = false;
  private markTerminated!: () => void;

  constructor(private config: LocalSandboxConfig) {
    this.id = config.id;
    this.workspaceDir = config.layout.areas.workspace.inside;
    this.homeDir = config.layout.areas.home.inside;
    this.runnerCommand = config.runnerCommand;
    this.terminated = new Promise((resolve) => {
      this.markTerminated = resolve;
    });
  }

  get name(): string {
    return this.config.name;
  }

  /** See `Sandbox.rename`; the provider moves the folder (`LocalSandboxConfig.rename`). */
  async rename(name: string): Promise<void> {
    if (this.stopping) throw new RuntimeError("SANDBOX_FAILED", `Sandbox ${this.name} is terminated`);
    if (name === this.config.name) return;
    if (!this.config.rename) throw new RuntimeError("UNSUPPORTED", "This sandbox cannot be renamed");
    this.config = { ...this.config, ...(await this.config.rename(this.config, name)) };
  }

  /**
   * Starts a command with exactly the sandbox's environment (`spec.env`, then
   * `options.env`) over PATH, HOME and LANG. Throws `SANDBOX_FAILED` after
   * `terminate()` or when a read-only file cannot be restored; a command that
   * cannot start exits with a non-zero code (bwrap prints why on stderr).
   */
  exec(command: readonly string[], options: ExecOptions = {}): SandboxProcess {
    if (this.stopping) throw new RuntimeError("SANDBOX_FAILED", `Sandbox ${this.name} is terminated`);
    if (command.length === 0) throw new RuntimeError("VALIDATION_FAILED", "exec needs a command");
    const env = { ...this.config.env, ...options.env };
    const cwd = options.cwd ?? this.workspaceDir;
    const started = this.config.isolation
      ? this.spawnIsolated(command, cwd, env)
      : this.spawnOnHost(command, cwd, env);
    this.processes.add(started);
    void started.exited.then(() => this.processes.delete(started));
    return started;
  }

  /** Polls the cgroup counters while someone listens; available when the sandbox has cgroups. */
  onLimit(listener: (limit: "memory" | "pids") => void): () => void {
    const cgroup = this.config.isolation?.cgroup;
    if (!cgroup || this.stopping) return () => undefined;
    this.limitListeners.add(listener);
    if (!this.suspended) this.startLimitPoll(cgroup);
    return () => {
      this.limitListeners.delete(listener);
      if (this.limitListeners.size === 0) this.stopLimitPoll();
    };
  }

  /**
   * Freezes the sandbox's cgroups (see `Sandbox.suspend`); its limit poll
   * pauses meanwhile, as frozen processes hit no limit. Throws
   * `SANDBOX_FAILED` when the sandbox has no freezer or the kernel did not
   * freeze it (it runs on then).
   */
  suspend(): Promise<void> {
    return this.transition(async () => {
      const cgroup = this.config.isolation?.cgroup;
      if (!cgroup?.freeze)
        throw new RuntimeError("SANDBOX_FAILED", "This sandbox cannot be suspended (no cgroup freezer)");
      if (this.suspended || this.stopping) return;
      this.suspended = true;
      this.stopLimitPoll();
      try {
        await cgroup.freeze();
      } catch (error) {
        this.suspended = false;
        this.resumeLimitPoll();
        throw new RuntimeError(
          "SANDBOX_FAILED",
          `Could not suspend sandbox ${this.name}: ${(error as Error).message}`,
        );
      }
    });
  }

  /** Thaws what `suspend` froze (see `Sandbox.resume`). */
  resume(): Promise<void> {
    return this.transition(async () => {
      if (!this.suspended || this.stopping) return;
      await this.config.isolation?.cgroup?.thaw?.();
      this.suspended = false;
      this.resumeLimitPoll();
    });
  }

  /** Runs `change` after the previous suspend or resume settled. */
  private transition(change: () => Promise<void>): Promise<void> {
    const next = this.freezing.then(change, change);
    this.freezing = next.catch(() => undefined);
    return next;
  }

  /** Reads the cgroup counters every `LIMIT_POLL_MS` unless that runs already. */
  private startLimitPoll(cgroup: SandboxCgroup): void {
    if (this.limitPoll) return;
    let last: { oomKills: number; pidsDenied: number } | undefined;
    let busy = false;
    const read = async () => {
      if (busy) return;
      busy = true;
      try {
        const now = await cgroup.counters();
        if (last && !this.stopping) {
          if (now.oomKills > last.oomKills) this.notifyLimit("memory");
          if (now.pidsDenied > last.pidsDenied) this.notifyLimit("pids");
        }
        last = now;
      } finally {
        busy = false;
      }
    };
    void read();
    this.limitPoll = setInterval(() => void read(), LIMIT_POLL_MS);
    this.limitPoll.unref();
  }

  private resumeLimitPoll(): void {
    const cgroup = this.config.isolation?.cgroup;
    if (cgroup && this.limitListeners.size > 0 && !this.stopping) this.startLimitPoll(cgroup);
  }

  private notifyLimit(limit: "memory" | "pids"): void {
    for (const notify of [...this.limitListeners]) notify(limit);
  }

  private stopLimitPoll(): void {
    clearInterval(this.limitPoll);
    this.limitPoll = undefined;
  }

  async writeFiles(files: readonly SandboxFile[]): Promise<void> {
    const targets = files.map((file) => ({ file, path: this.resolve(file.path) }));
    for (const { file, path } of targets) {
      if (file.linkTarget !== undefined) {
        await this.config.readOnlyFiles.forget(path);
        await writeAreaLink(this.area(path), path, file.linkTarget);
        continue;
      }
      if (file.readOnly) {
        await this.config.readOnlyFiles.save(path, file.content);
      } else {
        await this.config.readOnlyFiles.forget(path);
      }
      await writeAreaFile(this.area(path), path, file.content, file.readOnly ? 0o444 : 0o644);
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    const target = this.resolve(path);
    if (this.config.readOnlyFiles.has(target)) return this.config.readOnlyFiles.read(target);
    return readAreaFile(this.area(target), target);
  }

  /** A host-side open (no exec), with `readFile`'s protections; see `Sandbox.openFile`. */
  async openFile(path: string): Promise<SandboxFileReader> {
    const target = this.resolve(path);
    if (this.config.readOnlyFiles.has(target)) {
      return bytesFileReader(await this.config.readOnlyFiles.read(target));
    }
    return fileHandleReader(await openAreaFile(this.area(target), target));
  }

  /** Streams into a temporary file renamed over `path` once complete; see `Sandbox.writeFileFrom`. */
  async writeFileFrom(path: string, source: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.resolve(path);
    await this.config.readOnlyFiles.forget(target);
    await writeAreaFile(this.area(target), target, source);
  }

  /** Host-side reads, one file at a time (no exec); see `Sandbox.readFiles`. */
  readFiles(paths: readonly string[], options?: ReadFilesOptions): AsyncIterable<SandboxFileRead> {
    return readFilesOneByOne(this, paths, options);
  }

  async listWorkspace(): Promise<WorkspaceEntry[]> {
    return listAreaFiles({ root: this.config.layout.areas.workspace.host });
  }

  async deleteFile(path: string): Promise<void> {
    const target = this.resolve(path);
    await this.config.readOnlyFiles.forget(target);
    await deleteAreaFile(this.area(target), target);
  }

  /**
   * Kills every process of the sandbox (thawing a suspended one after the
   * kill) and waits (up to 5 s) until they are gone, then removes its
   * cgroups (killing anything left in them), stops its egress proxy and
   * unmounts its disk image; keeps the folder (and the image). Idempotent.
   */
  terminate(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopLimitPoll();
      for (const running of this.processes) running.kill("SIGKILL");
      // Frozen processes die of the kill once thawed, before running anything of their own.
      await this.freezing;
      if (this.suspended) await this.config.isolation?.cgroup?.thaw?.().catch(() => undefined);
      await Promise.race([
        Promise.all([...this.processes].map((running) => running.exited)),
        delay(TERMINATE_WAIT_MS),
      ]);
      await this.config.isolation?.cgroup?.destroy();
      this.config.isolation?.network?.proxy.close();
      await this.config.isolation?.disk?.release();
      this.config.onTerminated();
      this.markTerminated();
    })();
    return this.stopping;
  }

  private spawnIsolated(
    command: readonly string[],
    cwd: string,
    env: Record<string, string>,
  ): SandboxProcess {
    const isolation = this.config.isolation!;
    const { cgroup, network } = isolation;
    const fds: number[] = [];
    let child: ReturnType<typeof spawn>;
    let options: string[];
    try {
      const filter = openSync(isolation.syscallFilter, constants.O_RDONLY);
      fds.push(filter);
      const mounts = this.config.readOnlyFiles.mounts(STDIO_FDS[2] + 1);
      fds.push(...mounts.fds);
      const args = bwrapArgs({
        ...isolation,
        layout: this.config.layout,
        readOnlyFileMounts: mounts.args,
        cwd,
        infoFd: INFO_FD,
        ...(cgroup || network ? { blockFd: BLOCK_FD } : {}),
        seccompFd: SECCOMP_FD,
        command: [...STDIO_WRAPPER, ...command],
      });
      // The options go through a pipe (`--args`), so that the sandbox's own `/proc/1/cmdline`
      // (bwrap's) shows no host paths; only the command, which runs inside, stays on the command line.
      const split = args.indexOf("--");
      options = args.slice(0, split);
      child = spawn(isolation.bwrapPath, ["--args", String(ARGS_FD), ...args.slice(split)], {
        env,
        // bwrap runs as the sandbox's host uid; "/" is a folder every user may be in.
        cwd: "/",
        ...(isolation.hostUid === process.getuid?.()
          ? {}
          : { uid: isolation.hostUid, gid: isolation.hostUid }),
        stdio: [
          "ignore",
          "ignore",
          "ignore",
          "pipe",
          cgroup || network ? "pipe" : "ignore",
          filter,
          "pipe",
          "pipe",
          "pipe",
          "pipe",
          ...mounts.fds,
        ],
      });
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    const pipes = child.stdio as unknown as Array<Readable & Writable>;
    const argsPipe = pipes[ARGS_FD]!;
    argsPipe.on("error", () => undefined);
    argsPipe.end(`${options.join("\0")}\0`);
    const [stdin, stdout, stderr] = STDIO_FDS.map((fd) => pipes[fd]!);
    const streams = { stdin: stdin!, stdout: stdout!, stderr: stderr! };
    const reported = readInitPid(child.stdio[INFO_FD] as Readable);
    if (!cgroup && !network) {
      return sandboxProcess(child, (signal) => void signalSandbox(child, reported, signal), streams);
    }

    // The init waits on the block descriptor until it is in the cgroups and
    // the server listens on the allowed endpoints in its network namespace,
    // so nothing in the sandbox ever runs outside them or before its egress
    // works; if that fails, it dies. The listeners close when it exits.
    const gate = child.stdio[BLOCK_FD] as Writable;
    gate.on("error", () => undefined);
    let listeners: SandboxListeners | undefined;
    const confined = reported.then(async (pid) => {
      if (pid === undefined) return undefined;
      try {
        const before = await cgroup?.counters();
        await cgroup?.add(pid);
        listeners = await network?.listen(pid);
        gate.end("go");
        return before;
      } catch {
        killQuietly(pid);
        return undefined;
      }
    });
    const started = sandboxProcess(child, (signal) => void signalSandbox(child, reported, signal), streams);
    void started.exited.then(() => confined).then(() => listeners?.close());
    return cgroup ? { ...started, exited: withLimit(started.exited, confined, cgroup) } : started;
  }

  /** Unsafe mode: the command runs on the host in its own process group, which `kill` signals. */
  private spawnOnHost(command: readonly string[], cwd: string, env: Record<string, string>): SandboxProcess {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, detached: true, stdio: "pipe" });
    return sandboxProcess(child, (signal) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal);
      }
    });
  }

  private resolve(path: string): SandboxPath {
    return resolveSandboxPath(this.config.layout, path);
  }

  private area(path: SandboxPath): { root: string; owner?: { uid: number; gid: number } } {
    const hostUid = this.config.isolation?.hostUid;
    return {
      root: this.config.layout.areas[path.area].host,
      ...(hostUid === undefined ? {} : { owner: { uid: hostUid, gid: hostUid } }),
    };
  }
}

/** Adds `limit` to an exit status when the cgroup's counters moved while the process ran. */
async function withLimit(
  exited: Promise<ExitStatus>,
  before: Promise<{ oomKills: number; pidsDenied: number } | undefined>,
  cgroup: SandboxCgroup,
): Promise<ExitStatus> {
  const status = await exited;
  const start = await before;
  if (!start) return status;
  const end = await cgroup.counters();
  if (end.oomKills > start.oomKills) return { ...status, limit: "memory" };
  if (end.pidsDenied > start.pidsDenied) return { ...status, limit: "pids" };
  return status;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
