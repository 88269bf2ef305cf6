import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, symlink, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { Readable, Writable } from "node:stream";
import type { ReadableStream, WritableStream } from "node:stream/web";
import type {
  ModalClientFactory,
  ModalClientSeam,
  ModalCredentials,
  ModalExecParams,
  ModalImageSpec,
  ModalProcessHandle,
  ModalSandboxHandle,
  ModalSandboxRequest,
} from "../../src/sandboxes/modal/modal-client.js";
import type { ModalSandboxOptions } from "../../src/sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import type { SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";

/*
 * The only fake in the Modal tests: Modal's cloud cannot be reached here, so
 * this stands in for the SDK seam. It records every request the provider
 * builds and, like Modal, refuses to create a sandbox under a name a running
 * sandbox of the App holds. Execs either answer from a script (`onExec`) or,
 * with `runLocally`, really run their argv on this machine, so the shell
 * commands the provider sends into sandboxes are tested against real tar,
 * setpriv and find; with `containers`, each sandbox then also has folders of
 * its own, as each Modal sandbox has its own container file system.
 */

export interface ExecCall {
  readonly sandboxId: string;
  readonly argv: readonly string[];
  readonly params: ModalExecParams;
  /** Everything written to the process's stdin, once it is closed. */
  readonly stdin: Promise<Uint8Array>;
}

export interface ScriptedResult {
  readonly code?: number;
  readonly stdout?: string | Uint8Array;
  readonly stderr?: string;
}

export interface FakeModalOptions {
  /** Answers scripted execs; the default answers exit code 0 and no output. */
  readonly onExec?: (call: ExecCall) => ScriptedResult | Promise<ScriptedResult>;
  /** Runs every exec for real on this machine (the test must run as root). */
  readonly runLocally?: boolean;
  /** With `runLocally`: folders each sandbox gets empty and private. */
  readonly containers?: FakeContainers;
}

/**
 * Each sandbox gets its own empty copy of every folder in `folders`, kept
 * below `dir` and bind-mounted over the folder in a mount namespace of each
 * exec (`unshare`), so sandboxes see neither each other's files nor files
 * of a sandbox that stopped. The folders must exist on this machine.
 */
export interface FakeContainers {
  readonly dir: string;
  readonly folders: readonly {
    readonly path: string;
    readonly uid: number;
    readonly mode: number;
    /** Symbolic links each new copy starts with: path relative to the folder, and target (what an image layer would have put there). */
    readonly links?: Readonly<Record<string, string>>;
  }[];
  /** Files each sandbox gets a copy of (e.g. `/etc/hosts`), bind-mounted like the folders: path and first content. */
  readonly files?: Readonly<Record<string, string>>;
}

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Arguments: the working folder, bind mounts as source and target pairs, `--`, then the command. */
const IN_CONTAINER = [
  "workdir=$1; shift",
  // The mount point is made again if a concurrent suite removed it.
  'while [ "$1" != "--" ]; do { [ -e "$2" ] || mkdir -p "$2"; } && mount --bind "$1" "$2" || exit 125; shift 2; done; shift',
  'cd "$workdir" && exec "$@"',
].join("\n");

/**
 * Makes the container folders of sandbox `id` (empty copies, with their
 * `links`) and returns the bind mounts for `inContainer`; none without
 * `containers`.
 */
export async function makeContainerFolders(
  containers: FakeContainers | undefined,
  id: string,
): Promise<string[]> {
  const mounts: string[] = [];
  for (const [index, folder] of (containers?.folders ?? []).entries()) {
    const source = join(containers!.dir, id, String(index));
    await mkdir(source, { recursive: true });
    await chown(source, folder.uid, folder.uid);
    await chmod(source, folder.mode);
    for (const [path, target] of Object.entries(folder.links ?? {})) {
      await mkdir(dirname(join(source, path)), { recursive: true });
      await symlink(target, join(source, path));
    }
    mounts.push(source, folder.path);
  }
  for (const [index, [path, content]] of Object.entries(containers?.files ?? {}).entries()) {
    const source = join(containers!.dir, id, `file-${index}`);
    await writeFile(source, content, { mode: 0o644 });
    mounts.push(source, path);
  }
  return mounts;
}

/**
 * Kills every process on this machine whose environment holds
 * `AGENT_RUNTIME_MODAL_SANDBOX=<sandboxId>`: what a fake sandbox's commands
 * left running outside their process groups (the provider's key proxy),
 * which a stopped Modal sandbox would take with it.
 */
export function killMarkedProcesses(sandboxId: string): void {
  const marker = `AGENT_RUNTIME_MODAL_SANDBOX=${sandboxId}`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(marker)) {
        process.kill(Number(entry), "SIGKILL");
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
}

/** `argv` run in a mount namespace with `mounts` bound in and `workdir` as its folder (`argv` itself without mounts; then spawn it in `workdir`). */
export function inContainer(mounts: readonly string[], workdir: string, argv: readonly string[]): string[] {
  if (mounts.length === 0) return [...argv];
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    IN_CONTAINER,
    "fake-modal",
    workdir,
    ...mounts,
    "--",
    ...argv,
  ];
}

export class FakeModal {
  readonly credentials: ModalCredentials[] = [];
  readonly ensureAppCalls: string[] = [];
  readonly createRequests: ModalSandboxRequest[] = [];
  readonly buildRequests: { appName: string; image: ModalImageSpec }[] = [];
  readonly findCalls: { appName: string; name: string }[] = [];
  readonly execCalls: ExecCall[] = [];
  readonly terminateCalls: string[] = [];
  /** Sandboxes by Modal name, as `findSandbox` sees them. */
  readonly running = new Map<string, FakeSandbox>();
  /** The next call of that method rejects with this error. */
  readonly failNext: Partial<
    Record<"ensureApp" | "buildImage" | "createSandbox" | "findSandbox" | "exec" | "terminate", unknown>
  > = {};
  private count = 0;
  /** Image builds wait for this (tests hold a build open to run calls concurrently). */
  buildGate: Promise<void> = Promise.resolve();

  constructor(private readonly options: FakeModalOptions = {}) {}

  readonly factory: ModalClientFactory = (credentials) => {
    this.credentials.push(credentials);
    return this.seam;
  };

  private readonly seam: ModalClientSeam = {
    ensureApp: async (appName) => {
      this.throwIfFailing("ensureApp");
      this.ensureAppCalls.push(appName);
    },
    buildImage: async (appName, image) => {
      this.buildRequests.push({ appName, image });
      await this.buildGate;
      this.throwIfFailing("buildImage");
    },
    createSandbox: async (request) => {
      this.throwIfFailing("createSandbox");
      this.createRequests.push(request);
      const name = request.params.name ?? "";
      if (this.running.has(name)) {
        throw Object.assign(new Error(`Sandbox with name '${name}' already exists`), {
          name: "AlreadyExistsError",
        });
      }
      const sandbox = new FakeSandbox(
        this,
        // With containers, unique across test processes too: processes on this machine are found by their sandbox's id.
        `sb-fake-${++this.count}${this.options.containers ? `-${randomBytes(6).toString("hex")}` : ""}`,
        name,
        { ...request.params.tags },
      );
      await sandbox.makeFolders(this.options.containers);
      this.running.set(sandbox.name, sandbox);
      return sandbox;
    },
    findSandbox: async (appName, name) => {
      this.throwIfFailing("findSandbox");
      this.findCalls.push({ appName, name });
      return this.running.get(name) ?? null;
    },
    listSandboxes: (_appName, tags) => {
      const running = [...this.running.values()];
      return (async function* () {
        yield* running.filter((sandbox) =>
          Object.entries(tags).every(([key, value]) => sandbox.tagged[key] === value),
        );
      })();
    },
  };

  throwIfFailing(method: keyof FakeModal["failNext"]): void {
    if (!(method in this.failNext)) return;
    const error = this.failNext[method];
    delete this.failNext[method];
    throw error;
  }

  async startExec(
    sandbox: FakeSandbox,
    argv: readonly string[],
    params: ModalExecParams,
  ): Promise<ModalProcessHandle> {
    this.throwIfFailing("exec");
    let received!: (bytes: Uint8Array) => void;
    const call: ExecCall = {
      sandboxId: sandbox.sandboxId,
      argv,
      params,
      stdin: new Promise((resolve) => {
        received = resolve;
      }),
    };
    this.execCalls.push(call);
    return this.options.runLocally
      ? runLocally(sandbox, call, received)
      : scripted(call, received, this.options);
  }
}

class FakeSandbox implements ModalSandboxHandle {
  private stop!: (code: number) => void;
  private readonly stopped = new Promise<number>((resolve) => {
    this.stop = resolve;
  });
  readonly processes = new Set<number>();

  constructor(
    private readonly modal: FakeModal,
    readonly sandboxId: string,
    readonly name: string,
    /** Its tags, as `tags()` reports them. */
    public tagged: Record<string, string> = {},
  ) {}

  async tags(): Promise<Record<string, string>> {
    return { ...this.tagged };
  }

  private stoppedAlready = false;
  /** Bind mounts of this sandbox's own folders: source, target, source, target, … */
  mounts: readonly string[] = [];

  /** Makes this sandbox's copies of the container folders. */
  async makeFolders(containers: FakeContainers | undefined): Promise<void> {
    this.mounts = await makeContainerFolders(containers, this.sandboxId);
  }

  async exec(argv: readonly string[], params: ModalExecParams): Promise<ModalProcessHandle> {
    if (this.stoppedAlready) throw new Error(`Sandbox ${this.sandboxId} has already shut down`);
    return this.modal.startExec(this, argv, params);
  }

  async terminate(): Promise<void> {
    this.modal.throwIfFailing("terminate");
    this.modal.terminateCalls.push(this.sandboxId);
    this.stopExternally(137);
  }

  /** What Modal does when the sandbox times out or is stopped from elsewhere. */
  stopExternally(code = 0): void {
    // Commands wrapped in `setsid` lead their own process group; the others are killed alone.
    for (const pid of this.processes) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // Not a group leader, or already gone.
        }
      }
    }
    if (this.mounts.length > 0) killMarkedProcesses(this.sandboxId);
    this.stoppedAlready = true;
    this.modal.running.delete(this.name);
    this.stop(code);
  }

  wait(): Promise<number> {
    return this.stopped;
  }
}

async function scripted(
  call: ExecCall,
  received: (bytes: Uint8Array) => void,
  options: FakeModalOptions,
): Promise<ModalProcessHandle> {
  const chunks: Uint8Array[] = [];
  const stdin = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk);
      done();
    },
    final(done) {
      received(Buffer.concat(chunks));
      done();
    },
  });
  const result = (async () => {
    await call.stdin;
    return (await options.onExec?.(call)) ?? {};
  })();
  const output = (pick: (r: ScriptedResult) => string | Uint8Array | undefined) =>
    Readable.toWeb(
      Readable.from(
        (async function* () {
          const value = pick(await result);
          if (value !== undefined && value.length > 0) yield Buffer.from(value);
        })(),
      ),
    ) as ReadableStream<Uint8Array>;
  return {
    stdin: Writable.toWeb(stdin) as WritableStream<Uint8Array>,
    stdout: output((r) => r.stdout),
    stderr: output((r) => r.stderr),
    wait: async () => (await result).code ?? 0,
  };
}

async function runLocally(
  sandbox: FakeSandbox,
  call: ExecCall,
  received: (bytes: Uint8Array) => void,
): Promise<ModalProcessHandle> {
  const workdir = call.params.workdir ?? "/";
  const env = { PATH, ...call.params.env };
  const [command, ...args] = inContainer(sandbox.mounts, workdir, call.argv);
  const child = spawn(command!, args, { cwd: sandbox.mounts.length === 0 ? workdir : "/", env });
  if (child.pid !== undefined) sandbox.processes.add(child.pid);
  const chunks: Buffer[] = [];
  child.stdin.on("error", () => undefined);
  const recorder = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk);
      if (child.stdin.writable) child.stdin.write(chunk, () => done());
      else done();
    },
    final(done) {
      received(Buffer.concat(chunks));
      child.stdin.end();
      done();
    },
  });
  const exit = new Promise<number>((resolve) => {
    child.on("close", (code, signal) => {
      if (child.pid !== undefined) sandbox.processes.delete(child.pid);
      // Like Modal: a signal `n` is reported as 128 + n.
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
  return {
    stdin: Writable.toWeb(recorder) as WritableStream<Uint8Array>,
    stdout: Readable.toWeb(child.stdout) as ReadableStream<Uint8Array>,
    stderr: Readable.toWeb(child.stderr) as ReadableStream<Uint8Array>,
    wait: () => exit,
  };
}

/** The Modal provider over a fresh fake, with test credentials. */
export function fakeModalProvider(
  options: ModalSandboxOptions = {},
  fake: FakeModalOptions = {},
): { modal: FakeModal; provider: SandboxProvider } {
  const modal = new FakeModal(fake);
  const provider = createModalSandboxProvider({
    tokenId: "ak-test",
    tokenSecret: "as-test",
    ...options,
    createClient: modal.factory,
  });
  return { modal, provider };
}
