import type { Readable, Writable } from "node:stream";
import type { RuntimeError } from "../errors.js";

/** What a provider supports; the runtime and UIs act on the declaration, never on guesses. */
export interface SandboxCapabilities {
  /**
   * `create` takes over a sandbox of the same name that another server
   * process (e.g. one that crashed) left running: its files are kept and the
   * processes still running in it are stopped, instead of `create` failing.
   */
  readonly attach: boolean;
  /** Processes run as a non-root uid, which never maps to the host's root. */
  readonly nonRootUser: boolean;
  /**
   * Kernel surface (added after v1; absent means none is promised): a
   * system-call filter denies namespaces, mounts, `ptrace` attach,
   * `pidfd_getfd`, `process_vm_*`, keyrings, `bpf`, `io_uring` and the like,
   * and the runner's descriptors are out of reach of the agent's processes.
   */
  readonly syscallFilter?: boolean;
  /** The system outside workspace and home is read-only. */
  readonly readOnlySystem: boolean;
  /** Egress is limited by `SandboxSpec.network`. */
  readonly networkPolicy: boolean;
  /**
   * Which resource limits the provider enforces (added after v1; absent
   * means none is promised). A limit hit is reported in `ExitStatus.limit`.
   */
  readonly resourceLimits?: {
    /** Number of processes and threads. */
    readonly pids: boolean;
    /** Memory: a process over it is killed. */
    readonly memory: boolean;
    /** Bytes written to workspace, home and temporary folders. */
    readonly disk: boolean;
    /** CPU time: the sandbox gets at most its share of the machine. */
    readonly cpu?: boolean;
  };
}

/**
 * A secret that must never enter the sandbox: the sandbox holds a
 * placeholder, and the provider's egress proxy sets `header` to `value` on
 * every plain-HTTP request to `endpoint`.
 */
export interface SandboxSecret {
  /** `host:port`, one of `SandboxNetworkPolicy.allow`. */
  readonly endpoint: string;
  /** e.g. `x-api-key` or `authorization` (then `value` is `Bearer …`). */
  readonly header: string;
  readonly value: string;
  /**
   * The endpoint speaks HTTPS: processes inside send plain HTTP to
   * `http://<endpoint>` and the proxy forwards it over TLS. @default false
   */
  readonly tls?: boolean;
}

/**
 * Egress allowed from a sandbox (added after v1): everything not listed is
 * refused. Each endpoint is reachable inside at the same host (a host name
 * resolves to a loopback address inside) and, for ports from 1024 up, the
 * same port; a port below 1024, which the sandbox's unprivileged user cannot
 * serve, is reachable at `insidePort(port)`.
 */
export interface SandboxNetworkPolicy {
  /** `host:port` endpoints, e.g. `["127.0.0.1:4100", "api.anthropic.com:443"]`. Empty: no egress at all. */
  readonly allow: readonly string[];
  readonly secrets?: readonly SandboxSecret[];
}

/** Offset of the inside port of an allowed endpoint whose port is below 1024. */
export const PRIVILEGED_PORT_OFFSET = 10_000;

/** The port at which an allowed endpoint's `port` is reachable inside a sandbox with a network policy. */
export function insidePort(port: number): number {
  return port < 1024 ? port + PRIVILEGED_PORT_OFFSET : port;
}

export interface SandboxSpec {
  /**
   * Deterministic name derived from the session id, unique per session.
   * Providers that keep a sandbox's files between sandboxes, or that can
   * `attach`, use it to find them again.
   */
  readonly name: string;
  /** Environment of every process started in the sandbox (merged under `exec`'s own `env`). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Egress policy; only honoured when `capabilities.networkPolicy`, and a
   * provider that cannot honour it must fail `create` rather than ignore it.
   * @default unrestricted egress
   */
  readonly network?: SandboxNetworkPolicy;
}

export interface SandboxFile {
  /** Absolute path inside the sandbox, under `workspaceDir` or `homeDir`. */
  readonly path: string;
  readonly content: string | Uint8Array;
  /** Make the file read-only for the agent (runtime-owned configuration). */
  readonly readOnly?: boolean;
}

export interface ExecOptions {
  /** Working directory inside the sandbox. @default the sandbox's workspaceDir */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /**
   * Set when the sandbox hit a resource limit while the process ran
   * (`memory`: a process was killed for it; `pids`: a fork failed). Added
   * after v1; only providers declaring `capabilities.resourceLimits` set it.
   */
  readonly limit?: "memory" | "pids";
}

/** A process running inside a sandbox. Streams are raw bytes. */
export interface SandboxProcess {
  /** Process id as seen inside the sandbox, when the provider knows it. */
  readonly pid?: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves once the process has exited and its streams are closed. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** Sends a signal; a no-op after exit. */
  kill(signal?: NodeJS.Signals): void;
}

export interface WorkspaceEntry {
  /** Path relative to the workspace, `/`-separated. */
  readonly path: string;
  readonly size: number;
  readonly modifiedAt: string;
}

/**
 * One file of a `Sandbox.readFiles` call: its content, or why it could not be
 * read. `path` is the path as it was requested.
 */
export type SandboxFileRead =
  | { readonly path: string; readonly content: Uint8Array }
  | { readonly path: string; readonly error: RuntimeError };

export interface Sandbox {
  readonly id: string;
  readonly name: string;
  /** Absolute path of the workspace inside the sandbox. */
  readonly workspaceDir: string;
  /** Absolute path of the agent user's home inside the sandbox. */
  readonly homeDir: string;
  /** The command that starts the runner inside this sandbox, before the config path argument. */
  readonly runnerCommand: readonly string[];

  exec(command: readonly string[], options?: ExecOptions): SandboxProcess;
  /** Writes many files in one operation; parent folders are created. */
  writeFiles(files: readonly SandboxFile[]): Promise<void>;
  /** Reads a file by absolute sandbox path. Throws `FILE_NOT_FOUND` when missing. */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Reads many files by absolute sandbox path in one operation (added after
   * v1, optional: without it, read each file with `readFile`). Yields exactly
   * one entry per distinct requested path, in any order: the content of a
   * regular file (a symlink is followed as `readFile` follows it), or an
   * error: `FILE_NOT_FOUND` when nothing is there, `INVALID_PATH` when the
   * path is not confined to `workspaceDir`/`homeDir` or is not a regular
   * file, `SANDBOX_FAILED` when it could not be read (never reported as
   * missing, so a caller never takes a failed read for a deletion). Holds at
   * most one file's content at a time beyond what its stream buffers. Throws
   * `SANDBOX_FAILED` only when the sandbox cannot be reached at all; ending
   * the iteration early cancels the rest of the read.
   */
  readFiles?(paths: readonly string[]): AsyncIterable<SandboxFileRead>;
  /** All regular files under the workspace, recursively. */
  listWorkspace(): Promise<WorkspaceEntry[]>;
  /** Deletes a file by absolute sandbox path; missing files are ignored. */
  deleteFile(path: string): Promise<void>;
  /** Stops every process and releases the sandbox. Idempotent. */
  terminate(): Promise<void>;
  /** Resolves when the sandbox stops, whether by `terminate()` or externally. */
  readonly terminated: Promise<void>;
  /**
   * Calls `listener` whenever any process of the sandbox hits a resource
   * limit (a process killed at the memory limit, a fork refused at the pids
   * limit), while the sandbox runs, whichever process it was. Returns a
   * function that stops the calls. Added after v1: optional, and only
   * providers declaring `capabilities.resourceLimits` call it.
   */
  onLimit?(listener: (limit: "memory" | "pids") => void): () => void;
}

/**
 * Creates isolated environments, one per session. A provider is a plain
 * object: no I/O at construction; `check()` verifies it can work.
 */
export interface SandboxProvider {
  readonly id: string;
  readonly capabilities: SandboxCapabilities;
  /** Throws a `SANDBOX_FAILED` RuntimeError explaining what is missing (e.g. how to install bubblewrap). */
  check(): Promise<void>;
  /**
   * Starts the sandbox `spec.name`. Files a provider kept from an earlier
   * sandbox of that name (until `remove`) may still be there. Throws
   * `CONFLICT` or `SANDBOX_FAILED` when a sandbox of that name still runs and
   * cannot be taken over (see `capabilities.attach`).
   */
  create(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Deletes everything the provider keeps for the sandbox `name` (files,
   * disk images, host users), terminating it first if it runs, whichever
   * server process created it. A later `create` of that name starts empty.
   * Idempotent: a name without a sandbox is not an error. Called when its
   * session is deleted.
   */
  remove(name: string): Promise<void>;
}
