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
  /**
   * `prepareLayer` builds read-only layers that `SandboxSpec.layer` mounts
   * (added after v1; absent means false).
   */
  readonly layers?: boolean;
  /**
   * `Sandbox.suspend` and `Sandbox.resume` freeze and thaw every process of
   * a sandbox (added after v1; absent means false).
   */
  readonly suspend?: boolean;
}

/**
 * A secret that must never enter the sandbox: the sandbox holds a
 * placeholder, and the provider's egress proxy sets `header` to `value` on
 * every plain-HTTP request to `endpoint` (under `paths`, when given).
 */
export interface SandboxSecret {
  /** `host:port`, one of `SandboxNetworkPolicy.allow`. */
  readonly endpoint: string;
  /** e.g. `x-api-key` or `authorization` (then `value` is `Bearer …`). */
  readonly header: string;
  readonly value: string;
  /**
   * The endpoint speaks HTTPS: processes inside send plain HTTP to
   * `http://<endpoint>`, its own port included (`http://api.example.com:443`),
   * and the proxy forwards it over TLS. @default false
   */
  readonly tls?: boolean;
  /**
   * The requests of the API the secret is for (added after v1): a plain
   * absolute path covers itself and everything below it, for any method;
   * `METHOD /path` (e.g. `"POST /v1/messages"`) covers exactly that method
   * and path. The proxy then forwards only requests
   * whose path (before the query) is covered by a secret of the endpoint,
   * and answers any other request to the endpoint 403 without forwarding it:
   * the secret never goes elsewhere on the host. A request path with `%`, a
   * backslash, or an empty, `.` or `..` segment is never covered.
   * @default every path
   */
  readonly paths?: readonly string[];
}

/** A response the egress proxy saw stall (see `SandboxNetworkPolicy.stallWatch`). */
export interface EgressStall {
  /** `host:port` of the endpoint. */
  readonly endpoint: string;
  readonly method: string;
  /** The request's path, without its query. */
  readonly path: string;
  /** `headers`: the response never started; `body`: it started and then stopped sending. */
  readonly phase: "headers" | "body";
  /** How long nothing arrived (the watch's `timeoutMs`). */
  readonly idleMs: number;
}

/**
 * Egress allowed from a sandbox (added after v1): everything not listed is
 * refused. Each endpoint is reachable inside at its own host and port (a
 * host name resolves to a loopback address inside), so its real URL works
 * for any client; TLS, if the endpoint speaks it, stays end to end.
 */
export interface SandboxNetworkPolicy {
  /** `host:port` endpoints, e.g. `["127.0.0.1:4100", "api.anthropic.com:443"]`. Empty: no egress at all. */
  readonly allow: readonly string[];
  readonly secrets?: readonly SandboxSecret[];
  /**
   * Watches the responses to the requests the proxy forwards with secrets
   * (the model API's; added after v1): one whose headers have not arrived
   * `timeoutMs` after its request was sent, or whose body then sends no byte
   * for `timeoutMs`, is reported to `onStall`, once, from the provider's
   * process; the exchange itself is left as it is. Only providers whose
   * proxy reads those requests honour it (local); others ignore it.
   */
  readonly stallWatch?: {
    readonly timeoutMs: number;
    readonly onStall: (stall: EgressStall) => void;
  };
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
  /**
   * A layer built by `prepareLayer` (its `key`), mounted read-only at
   * `SANDBOX_LAYER_DIR` (added after v1; only with `capabilities.layers`,
   * and a provider without them fails `create`). Its `node_modules` is
   * reachable as `/node_modules`, so `require` and `import` resolve its npm
   * packages from anywhere below `/`; every process gets `PYTHONPATH` set to
   * its `python` folder and `PATH` extended with `node_modules/.bin` and
   * `python/bin`.
   */
  readonly layer?: string;
}

/** Where a sandbox sees its layer (`SandboxSpec.layer`), and where the layer is built. */
export const SANDBOX_LAYER_DIR = "/opt/agent-runtime/layer";

/** One step of a layer's build: a command run in a folder of the layer. */
export interface SandboxLayerCommand {
  readonly command: readonly string[];
  /** Folder relative to the layer, `/`-separated. @default the layer itself */
  readonly cwd?: string;
}

/**
 * A read-only layer of files shared by many sandboxes (e.g. a profile's
 * installed packages), built once per `key`: `files` are written into an
 * empty layer at `SANDBOX_LAYER_DIR`, then `commands` run there in order, in
 * a sandbox of their own with `network` as egress, until each exits 0.
 */
export interface SandboxLayerSpec {
  /** Names the layer: the same key is the same content (e.g. a hash of what builds it). `[0-9a-f]{16,128}`. */
  readonly key: string;
  /** Written first; paths relative to the layer, `/`-separated, confined to it. */
  readonly files: readonly { readonly path: string; readonly content: string | Uint8Array }[];
  readonly commands: readonly SandboxLayerCommand[];
  readonly env?: Readonly<Record<string, string>>;
  /** Egress of the build (e.g. a package registry). @default none */
  readonly network?: SandboxNetworkPolicy;
  /**
   * Host folders the build sees, read-only, at the same path (e.g. a folder
   * of wheels). Only providers on this machine (local) honour it; others
   * fail the build when it is not empty.
   */
  readonly hostFolders?: readonly string[];
  /** The build fails with `DEPENDENCIES_FAILED` after this long. @default 600000 */
  readonly timeoutMs?: number;
  /** What the build's commands print, as it comes (stdout and stderr interleaved). */
  readonly onOutput?: (text: string) => void;
}

export interface SandboxFile {
  /** Absolute path inside the sandbox, under `workspaceDir` or `homeDir`. */
  readonly path: string;
  readonly content: string | Uint8Array;
  /** Make the file read-only for the agent (runtime-owned configuration). */
  readonly readOnly?: boolean;
  /**
   * Write a symbolic link to this target (any text; never followed while
   * writing) instead of a file; `content` is ignored. Added after v1.
   */
  readonly linkTarget?: string;
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
  /** Set for a symbolic link: its target (the link is not followed). */
  readonly linkTarget?: string;
}

/**
 * One file of a `Sandbox.readFiles` call: its content, or why it could not be
 * read. `path` is the path as it was requested.
 */
export type SandboxFileRead =
  | { readonly path: string; readonly content: Uint8Array }
  | {
      readonly path: string;
      readonly error: RuntimeError;
      /** The file's size, when it was not read for it (`FILE_TOO_LARGE`). */
      readonly size?: number;
    };

/** How a `Sandbox.readFiles` call reads. */
export interface ReadFilesOptions {
  /**
   * A file larger than this is not read: its entry is a `FILE_TOO_LARGE`
   * error with its `size`, so a caller's memory is bounded by this whatever
   * a file grew to since it was listed. @default no bound
   */
  readonly maxBytes?: number;
}

/** Bytes `start` to `end` of a file, both included, counted from 0. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A regular file opened by `Sandbox.openFile`: its size is known before any
 * byte is read, so a caller can refuse or slice the file first.
 */
export interface SandboxFileReader {
  /** Bytes in the file when it was opened. */
  readonly size: number;
  /**
   * Streams `range` (within `0..size-1`; default the whole file) with
   * backpressure, and releases the file when the stream ends or is
   * destroyed. Call at most once. The stream never carries more than the
   * range, and fewer bytes only when the file shrank meanwhile (callers
   * compare the length); it fails with `SANDBOX_FAILED` when the file
   * cannot be read.
   */
  read(range?: ByteRange): Readable;
  /** Releases the file without reading it; a no-op after `read`. Idempotent. */
  close(): Promise<void>;
}

export interface Sandbox {
  readonly id: string;
  /** Its `SandboxSpec.name`, or the name `rename` gave it. */
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
  readFiles?(paths: readonly string[], options?: ReadFilesOptions): AsyncIterable<SandboxFileRead>;
  /**
   * Opens a regular file by absolute sandbox path for streaming (added after
   * v1, optional: without it, read the whole file with `readFile`). Paths
   * are refused and symlinks followed as `readFile` does: `FILE_NOT_FOUND`
   * when nothing is there, `INVALID_PATH` when the path is not confined to
   * `workspaceDir`/`homeDir` or is not a regular file (a FIFO is refused,
   * never waited on). Memory stays at the stream's buffer whatever the
   * file's size.
   */
  openFile?(path: string): Promise<SandboxFileReader>;
  /**
   * Writes one file by absolute sandbox path from a byte stream (added after
   * v1, optional: without it, collect the bytes and call `writeFiles`).
   * Parent folders are created; the file is not read-only. The file is
   * replaced only once `source` has ended: a source that fails leaves the
   * earlier file as it was, and its error is rethrown. Throws
   * `INVALID_PATH` as `writeFiles` does.
   */
  writeFileFrom?(path: string, source: AsyncIterable<Uint8Array>): Promise<void>;
  /** All regular files under the workspace, recursively. */
  listWorkspace(): Promise<WorkspaceEntry[]>;
  /** Deletes a file by absolute sandbox path; missing files are ignored. */
  deleteFile(path: string): Promise<void>;
  /** Stops every process and releases the sandbox. Idempotent. */
  terminate(): Promise<void>;
  /** Resolves when the sandbox stops, whether by `terminate()` or externally. */
  readonly terminated: Promise<void>;
  /**
   * When the provider stops this sandbox whatever runs in it (a maximum
   * lifetime), in ms since the epoch. Added after v1, optional: absent means
   * no such limit. The runtime hands the session over before then: once no
   * turn runs, it saves the workspace and stops the sandbox, and the next
   * message starts a new one with the workspace restored and the agent
   * resuming its conversation.
   */
  readonly expiresAt?: number;
  /**
   * Calls `listener` whenever any process of the sandbox hits a resource
   * limit (a process killed at the memory limit, a fork refused at the pids
   * limit), while the sandbox runs, whichever process it was. Returns a
   * function that stops the calls. Added after v1: optional, and only
   * providers declaring `capabilities.resourceLimits` call it.
   */
  onLimit?(listener: (limit: "memory" | "pids") => void): () => void;
  /**
   * Gives the running sandbox the name `name` (added after v1, optional): from
   * then on it is that name's sandbox, whose files `create` finds again and
   * `remove` deletes, its processes running on undisturbed. A warm pool
   * starts sandboxes before their session exists and names them for it when
   * one takes them. Throws `CONFLICT`, leaving the sandbox as it was, when
   * the provider runs or keeps a sandbox of that name; `SANDBOX_FAILED` after
   * `terminate()`.
   */
  rename?(name: string): Promise<void>;
  /**
   * Freezes every process of the sandbox where it stands (added after v1,
   * with `capabilities.suspend`): none is scheduled, so none uses CPU or
   * notices the pause, and the memory the kernel can take back from them
   * (e.g. file pages) is reclaimed. Files stay readable and writable through
   * this interface; a process `exec` starts meanwhile is frozen too.
   * Resolves once every process is frozen. Idempotent.
   */
  suspend?(): Promise<void>;
  /**
   * Thaws what `suspend` froze; the processes go on where they stood. A
   * no-op on a sandbox that is not suspended. `terminate` needs no `resume`
   * first: it stops a suspended sandbox's processes as any other's.
   */
  resume?(): Promise<void>;
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
  /**
   * Builds the layer `spec.key` unless it is built already (added after v1;
   * with `capabilities.layers`). Concurrent calls for one key share one
   * build; a layer, once built, is never changed. Throws
   * `DEPENDENCIES_FAILED` (a command exited non-zero or timed out; its
   * message ends with the last of what the build printed), or
   * `SANDBOX_FAILED`.
   */
  prepareLayer?(spec: SandboxLayerSpec): Promise<void>;
  /**
   * Stops the sandboxes left running whose session is gone (added after
   * v1; for providers whose sandboxes outlive the server process, e.g. on a
   * cloud). The runtime calls it once at start, in the background: the
   * provider lists its running sandboxes (in its own scope, e.g. one Modal
   * App), asks `isOrphan` with each one's `SandboxSpec.name`, terminates
   * those it says are, and leaves the others for `create` to take over.
   * Stops early, resolving with what it did, once `signal` aborts.
   */
  sweep?(isOrphan: (name: string) => Promise<boolean>, signal: AbortSignal): Promise<SandboxSweep>;
}

/** What `SandboxProvider.sweep` did. */
export interface SandboxSweep {
  /** `SandboxSpec.name` of each sandbox it terminated. */
  readonly stopped: readonly string[];
  /** How many running sandboxes it left for their sessions. */
  readonly kept: number;
  /** How many it could not judge or stop (no name recorded, or a failed call), left running. */
  readonly skipped: number;
}
