import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname } from "node:path";
import { type CallContext, createServer, Metadata, type Server, ServerError, Status } from "nice-grpc";
import {
  type FakeContainers,
  inContainer,
  killMarkedProcesses,
  makeContainerFolders,
} from "./modal-fake-client.js";

/*
 * An in-process stand-in for Modal's API, for the real `modal` SDK to talk
 * to: the SDK's own transport (nice-grpc over HTTP/2) reaches it because the
 * SDK takes its control-plane address from MODAL_SERVER_URL, and the
 * command-router address from the server's answers. The service definitions
 * (paths, protobuf encoders) are the SDK's own: its CommonJS bundle is loaded
 * once more with one line added that hands them out, so every request the
 * provider makes is encoded, sent and decoded exactly as against Modal.
 *
 * It implements the calls the provider's seam makes, with Modal's V2
 * sandbox backend (the SDK's default) and its V1 backend: auth token, App,
 * environment (image builder version), image build (each layer answered
 * built at once), named and ephemeral Secrets, sandbox create / lookup by
 * name / task id / command-router access / tags / listing by App and tags /
 * wait / terminate, and on
 * the command router exec start, stdin writes, stdout and stderr streams
 * and exit status. A sandbox stops at the end of its lifetime
 * (`timeoutSecs`), as on Modal. Commands really run on this machine
 * (`spawn`), as the test's user. Names held by running sandboxes are unique
 * per App, as on Modal (ALREADY_EXISTS), and each backend's lookup by name
 * finds its own; unknown sandboxes are NOT_FOUND.
 */

interface Definitions {
  readonly ModalClientDefinition: Parameters<Server["add"]>[0];
  readonly TaskCommandRouterDefinition: Parameters<Server["add"]>[0];
}

/** The SDK's service definitions, from its own bundle. */
function sdkDefinitions(): Definitions {
  const require = createRequire(import.meta.url);
  const filename = require.resolve("modal");
  const source = readFileSync(filename, "utf8");
  const bundle = new Module(filename) as Module & {
    _compile(code: string, name: string): void;
    paths: string[];
  };
  bundle.filename = filename;
  bundle.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
    dirname(filename),
  );
  bundle._compile(
    `${source}\nmodule.exports.__definitions = { ModalClientDefinition, TaskCommandRouterDefinition };\n`,
    filename,
  );
  return (bundle.exports as { __definitions: Definitions }).__definitions;
}

/** One RPC as the fake received it: its method and decoded request. */
export interface FakeCall {
  readonly method: string;
  readonly request: Record<string, unknown>;
}

interface FakeExec {
  readonly child: ChildProcess;
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  stdinOffset: number;
  exit?: { code?: number; signal?: number };
  readonly changed: Set<() => void>;
}

interface FakeSandboxState {
  readonly sandboxId: string;
  /** Modal's sandbox backend it was created with (`SandboxCreate` or `SandboxCreateV2`). */
  readonly backend: "v1" | "v2";
  readonly taskId: string;
  readonly appId: string;
  readonly name: string;
  readonly env: Record<string, string>;
  readonly tags: readonly { tagName: string; tagValue: string }[];
  readonly workdir: string;
  /** Seconds since the epoch, as Modal's listings give it. */
  readonly createdAt: number;
  result?: { status: number; exitcode: number };
  /** Why it stopped: `terminate` (a terminate call), `lifetime` (its `timeoutSecs` ran out) or `stop` (`stopSandbox`). */
  stoppedBy?: "terminate" | "lifetime" | "stop";
  /** Stops it at the end of its lifetime, as Modal does. */
  lifetime?: NodeJS.Timeout;
  readonly waiters: Set<() => void>;
  readonly execs: Map<string, FakeExec>;
  /** Bind mounts of its container folders (see `inContainer`). */
  readonly mounts: readonly string[];
}

/** A sandbox create request of either backend, as the fake reads it. */
interface CreateRequest {
  readonly appId: string;
  readonly definition?: { name?: string; workdir?: string; timeoutSecs?: number; secretIds?: string[] };
  readonly tags?: { tagName: string; tagValue: string }[];
  readonly secretSources?: { env?: { contents?: Record<string, string> } }[];
}

/** Sandboxes per listing page (Modal's pages are larger; small here so paging is exercised). */
const LIST_PAGE = 2;
const GENERIC_STATUS_SUCCESS = 1;
const GENERIC_STATUS_TERMINATED = 3;
const GENERIC_STATUS_TIMEOUT = 4;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface FakeModalApi {
  /** What to set as MODAL_SERVER_URL. */
  readonly url: string;
  readonly calls: FakeCall[];
  readonly sandboxes: Map<string, FakeSandboxState>;
  /** Calls of these methods fail once with this status (e.g. `{ AppGetOrCreate: Status.UNAVAILABLE }`). */
  readonly failNext: Map<string, Status>;
  /** Stops a sandbox as Modal does at its timeout: its commands are killed, waiters told. */
  stopSandbox(sandboxId: string): void;
  close(): Promise<void>;
}

/** `implemented`, with every other method of `definition` answering UNIMPLEMENTED, as a server without it would. */
function complete(definition: unknown, implemented: object): never {
  const methods = (definition as { methods: Record<string, { name: string; responseStream: boolean }> })
    .methods;
  const all: Record<string, unknown> = { ...implemented };
  for (const [key, method] of Object.entries(methods)) {
    if (key in all) continue;
    const refuse = () =>
      new ServerError(Status.UNIMPLEMENTED, `${method.name} is not implemented by the fake`);
    all[key] = method.responseStream
      ? async function* () {
          yield* [];
          throw refuse();
        }
      : async () => {
          throw refuse();
        };
  }
  return all as never;
}

/** A JWT-shaped token the SDK can read an expiry from (it never checks the signature). */
function jwt(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600 })}.fake`;
}

/** Starts the fake control plane and command router on loopback; `tokens` are the accepted token id and secret. */
export async function startFakeModalApi(
  tokens: { tokenId: string; tokenSecret: string },
  options: { containers?: FakeContainers } = {},
): Promise<FakeModalApi> {
  const definitions = sdkDefinitions();
  const calls: FakeCall[] = [];
  const failNext = new Map<string, Status>();
  const apps = new Map<string, string>();
  const sandboxes = new Map<string, FakeSandboxState>();
  const ephemeralSecrets = new Map<string, Record<string, string>>();
  let count = 0;
  let routerUrl = "";

  const record = (method: string, request: object, context: CallContext) => {
    calls.push({ method, request: request as Record<string, unknown> });
    const failure = failNext.get(method);
    if (failure !== undefined) {
      failNext.delete(method);
      throw new ServerError(failure, `${method} failed (fake)`);
    }
    return context;
  };
  const authenticate = (context: CallContext) => {
    if (
      context.metadata.get("x-modal-token-id") !== tokens.tokenId ||
      context.metadata.get("x-modal-token-secret") !== tokens.tokenSecret
    ) {
      throw new ServerError(Status.UNAUTHENTICATED, "Token ID/secret is invalid");
    }
  };
  const sandboxOf = (sandboxId: unknown): FakeSandboxState => {
    const sandbox = sandboxes.get(String(sandboxId));
    if (!sandbox) throw new ServerError(Status.NOT_FOUND, `Sandbox ${String(sandboxId)} not found`);
    return sandbox;
  };
  const byTask = (taskId: unknown): FakeSandboxState => {
    for (const sandbox of sandboxes.values())
      if (sandbox.taskId === taskId && !sandbox.result) return sandbox;
    throw new ServerError(Status.NOT_FOUND, `Task ${String(taskId)} not found`);
  };
  const execOf = (taskId: unknown, execId: unknown): FakeExec => {
    const exec = byTask(taskId).execs.get(String(execId));
    if (!exec) throw new ServerError(Status.NOT_FOUND, `Exec ${String(execId)} not found`);
    return exec;
  };
  const stop = (sandbox: FakeSandboxState, status: number, by: FakeSandboxState["stoppedBy"]) => {
    if (sandbox.result) return;
    sandbox.result = { status, exitcode: 0 };
    sandbox.stoppedBy = by;
    clearTimeout(sandbox.lifetime);
    for (const exec of sandbox.execs.values()) {
      // Commands wrapped in `setsid` lead their own process group; the others are killed alone.
      for (const target of exec.child.pid === undefined || exec.exit
        ? []
        : [-exec.child.pid, exec.child.pid]) {
        try {
          process.kill(target, "SIGKILL");
        } catch {
          // Not a group leader, or already gone.
        }
      }
    }
    if (sandbox.mounts.length > 0) killMarkedProcesses(sandbox.sandboxId);
    for (const waiter of sandbox.waiters) waiter();
  };
  const waitFor = (set: Set<() => void>, done: () => boolean, signal: AbortSignal, timeoutMs: number) =>
    new Promise<void>((resolve) => {
      if (done()) return resolve();
      const finish = () => {
        set.delete(check);
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      set.add(check);
      signal.addEventListener("abort", finish);
    });

  const createSandbox = async (
    backend: FakeSandboxState["backend"],
    request: CreateRequest,
    env: Record<string, string>,
  ): Promise<FakeSandboxState> => {
    const name = request.definition?.name ?? "";
    for (const sandbox of sandboxes.values()) {
      if (name !== "" && sandbox.appId === request.appId && sandbox.name === name && !sandbox.result) {
        throw new ServerError(Status.ALREADY_EXISTS, `Sandbox with name '${name}' already exists`);
      }
    }
    const id = ++count;
    // The SDK tells the backends apart by the id's shape: V1 ids are `sb-` and 22 letters or digits.
    // Unique across test processes too, since processes on this machine are found by their sandbox's id.
    const unique = `${id}${randomBytes(8).toString("hex")}`;
    const sandboxId =
      backend === "v1" ? `sb-${unique.slice(0, 22).padStart(22, "X")}` : `sb-v2fake-${unique}`;
    const sandbox: FakeSandboxState = {
      sandboxId,
      backend,
      mounts: await makeContainerFolders(options.containers, sandboxId),
      taskId: `ta-fake-${id}`,
      appId: request.appId,
      name,
      env,
      tags: request.tags ?? [],
      workdir: request.definition?.workdir || "/",
      createdAt: Date.now() / 1000 + id / 1e6,
      waiters: new Set(),
      execs: new Map(),
    };
    sandboxes.set(sandbox.sandboxId, sandbox);
    const lifetimeSecs = request.definition?.timeoutSecs ?? 0;
    if (lifetimeSecs > 0) {
      sandbox.lifetime = setTimeout(
        () => stop(sandbox, GENERIC_STATUS_TIMEOUT, "lifetime"),
        lifetimeSecs * 1000,
      );
      sandbox.lifetime.unref();
    }
    return sandbox;
  };
  /** The running sandbox of that backend and name in that App. */
  const byName = (
    backend: FakeSandboxState["backend"],
    request: { sandboxName: string; appName: string; environmentName: string },
  ): FakeSandboxState => {
    const appId = apps.get(`${request.environmentName}/${request.appName}`);
    for (const sandbox of sandboxes.values()) {
      if (
        sandbox.backend === backend &&
        sandbox.appId === appId &&
        sandbox.name === request.sandboxName &&
        !sandbox.result
      ) {
        return sandbox;
      }
    }
    throw new ServerError(Status.NOT_FOUND, `Sandbox with name '${request.sandboxName}' not found`);
  };
  const waitForSandbox = async (request: { sandboxId: string; timeout: number }, context: CallContext) => {
    const sandbox = sandboxOf(request.sandboxId);
    await waitFor(
      sandbox.waiters,
      () => sandbox.result !== undefined,
      context.signal,
      request.timeout * 1000,
    );
    return sandbox.result
      ? { result: sandbox.result, metadata: { appId: sandbox.appId } }
      : { metadata: { appId: sandbox.appId } };
  };
  const terminateSandbox = (sandboxId: string) => {
    const sandbox = sandboxOf(sandboxId);
    if (sandbox.result) throw new ServerError(Status.NOT_FOUND, `Sandbox ${sandboxId} already stopped`);
    stop(sandbox, GENERIC_STATUS_TERMINATED, "terminate");
  };

  /** Running sandboxes of the App with every tag asked for, newest first, created before `beforeTimestamp` (when set), a page at a time. */
  const listSandboxes = (request: {
    appId: string;
    beforeTimestamp: number;
    tags: { tagName: string; tagValue: string }[];
  }) => {
    const found = [...sandboxes.values()]
      .filter(
        (sandbox) =>
          !sandbox.result &&
          (request.appId === "" || sandbox.appId === request.appId) &&
          (!request.beforeTimestamp || sandbox.createdAt < request.beforeTimestamp) &&
          request.tags.every((tag) =>
            sandbox.tags.some((own) => own.tagName === tag.tagName && own.tagValue === tag.tagValue),
          ),
      )
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, LIST_PAGE);
    return {
      sandboxes: found.map((sandbox) => ({
        id: sandbox.sandboxId,
        appId: sandbox.appId,
        createdAt: sandbox.createdAt,
      })),
    };
  };

  const control = {
    async authTokenGet(request: object, context: CallContext) {
      authenticate(record("AuthTokenGet", request, context));
      return { token: jwt() };
    },
    async appGetOrCreate(request: { appName: string; environmentName: string }, context: CallContext) {
      authenticate(record("AppGetOrCreate", request, context));
      const key = `${request.environmentName}/${request.appName}`;
      if (!apps.has(key)) apps.set(key, `ap-fake${apps.size + 1}`);
      return { appId: apps.get(key) };
    },
    async environmentGetOrCreate(request: object, context: CallContext) {
      authenticate(record("EnvironmentGetOrCreate", request, context));
      return {
        environmentId: "en-fake",
        metadata: { name: "main", settings: { imageBuilderVersion: "2025.06" } },
      };
    },
    async imageGetOrCreate(request: object, context: CallContext) {
      authenticate(record("ImageGetOrCreate", request, context));
      return { imageId: `im-fake${++count}`, result: { status: GENERIC_STATUS_SUCCESS } };
    },
    async secretGetOrCreate(
      request: { deploymentName: string; envDict?: Record<string, string> },
      context: CallContext,
    ) {
      authenticate(record("SecretGetOrCreate", request, context));
      if (request.deploymentName !== "") return { secretId: `st-${request.deploymentName}` };
      // An ephemeral Secret: the V1 backend's way of passing a sandbox's environment.
      const secretId = `st-ephemeral-${++count}`;
      ephemeralSecrets.set(secretId, { ...request.envDict });
      return { secretId };
    },
    async sandboxCreateV2(request: CreateRequest, context: CallContext) {
      authenticate(record("SandboxCreateV2", request, context));
      const env = Object.assign(
        {},
        ...(request.secretSources ?? []).map((source) => source.env?.contents ?? {}),
      );
      const sandbox = await createSandbox("v2", request, env);
      return {
        sandboxId: sandbox.sandboxId,
        taskId: sandbox.taskId,
        commandRouterAccess: { url: routerUrl, jwt: jwt() },
        tunnels: [],
      };
    },
    /** Modal's V1 sandbox backend: the environment comes as Secrets, commands reach the task's router. */
    async sandboxCreate(request: CreateRequest, context: CallContext) {
      authenticate(record("SandboxCreate", request, context));
      const env = Object.assign(
        {},
        ...(request.definition?.secretIds ?? []).map((secretId) => ephemeralSecrets.get(secretId) ?? {}),
      );
      const sandbox = await createSandbox("v1", request, env);
      return { sandboxId: sandbox.sandboxId };
    },
    async sandboxGetFromName(
      request: { sandboxName: string; appName: string; environmentName: string },
      context: CallContext,
    ) {
      authenticate(record("SandboxGetFromName", request, context));
      return { sandboxId: byName("v1", request).sandboxId };
    },
    async sandboxGetTaskId(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxGetTaskId", request, context));
      const sandbox = sandboxOf(request.sandboxId);
      return sandbox.result ? { taskResult: sandbox.result } : { taskId: sandbox.taskId };
    },
    async taskGetCommandRouterAccess(request: { taskId: string }, context: CallContext) {
      authenticate(record("TaskGetCommandRouterAccess", request, context));
      byTask(request.taskId);
      return { url: routerUrl, jwt: jwt() };
    },
    async sandboxWait(request: { sandboxId: string; timeout: number }, context: CallContext) {
      authenticate(record("SandboxWait", request, context));
      return waitForSandbox(request, context);
    },
    async sandboxList(request: Parameters<typeof listSandboxes>[0], context: CallContext) {
      authenticate(record("SandboxList", request, context));
      return listSandboxes(request);
    },
    async sandboxListV2(request: Parameters<typeof listSandboxes>[0], context: CallContext) {
      authenticate(record("SandboxListV2", request, context));
      return listSandboxes(request);
    },
    async sandboxTagsGet(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxTagsGet", request, context));
      return { tags: sandboxOf(request.sandboxId).tags };
    },
    async sandboxTerminate(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxTerminate", request, context));
      terminateSandbox(request.sandboxId);
      return {};
    },
    async sandboxGetFromNameV2(
      request: { sandboxName: string; appName: string; environmentName: string },
      context: CallContext,
    ) {
      authenticate(record("SandboxGetFromNameV2", request, context));
      return { sandboxId: byName("v2", request).sandboxId };
    },
    async sandboxGetTaskIdV2(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxGetTaskIdV2", request, context));
      const sandbox = sandboxOf(request.sandboxId);
      return sandbox.result ? { taskResult: sandbox.result } : { taskId: sandbox.taskId };
    },
    async sandboxGetCommandRouterAccess(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxGetCommandRouterAccess", request, context));
      sandboxOf(request.sandboxId);
      return { url: routerUrl, jwt: jwt() };
    },
    async sandboxWaitV2(request: { sandboxId: string; timeout: number }, context: CallContext) {
      authenticate(record("SandboxWaitV2", request, context));
      return waitForSandbox(request, context);
    },
    async sandboxTagsGetV2(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxTagsGetV2", request, context));
      return { tags: sandboxOf(request.sandboxId).tags };
    },
    async sandboxTerminateV2(request: { sandboxId: string }, context: CallContext) {
      authenticate(record("SandboxTerminateV2", request, context));
      terminateSandbox(request.sandboxId);
      return {};
    },
  };

  const router = {
    async taskExecStart(
      request: {
        taskId: string;
        execId: string;
        commandArgs: string[];
        workdir?: string;
        secretSources?: { env?: { contents?: Record<string, string> } }[];
      },
      context: CallContext,
    ) {
      record("TaskExecStart", request, context);
      const sandbox = byTask(request.taskId);
      const env = Object.assign(
        { PATH },
        sandbox.env,
        ...(request.secretSources ?? []).map((source) => source.env?.contents ?? {}),
      );
      const workdir = request.workdir || sandbox.workdir;
      const [command, ...args] = inContainer(sandbox.mounts, workdir, request.commandArgs);
      // Not detached: `setsid` in the provider's commands then makes this very process a group leader, which `stop` kills.
      const child = spawn(command!, args, { cwd: sandbox.mounts.length === 0 ? workdir : "/", env });
      const exec: FakeExec = { child, stdout: [], stderr: [], stdinOffset: 0, changed: new Set() };
      const notify = () => {
        for (const listener of exec.changed) listener();
      };
      child.stdout!.on("data", (chunk: Buffer) => {
        exec.stdout.push(chunk);
        notify();
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        exec.stderr.push(chunk);
        notify();
      });
      child.stdin!.on("error", () => undefined);
      child.on("error", (error) => {
        exec.stderr.push(Buffer.from(String(error)));
        exec.exit = { code: 127 };
        notify();
      });
      child.on("close", (code, signal) => {
        exec.exit = signal ? { signal: constants.signals[signal] } : { code: code ?? 0 };
        notify();
      });
      sandbox.execs.set(request.execId, exec);
      return {};
    },
    async taskExecStdinWrite(
      request: { taskId: string; execId: string; offset: number; data: Uint8Array; eof: boolean },
      context: CallContext,
    ) {
      record("TaskExecStdinWrite", { ...request, data: request.data.length }, context);
      const exec = execOf(request.taskId, request.execId);
      // Offsets make a retried write idempotent: only bytes past what was written go through.
      const skip = exec.stdinOffset - Number(request.offset);
      if (skip < request.data.length) {
        const data = request.data.subarray(Math.max(0, skip));
        exec.stdinOffset += data.length;
        if (exec.child.stdin!.writable) exec.child.stdin!.write(data);
      }
      if (request.eof) exec.child.stdin!.end();
      return {};
    },
    async *taskExecStdioRead(
      request: { taskId: string; execId: string; offset: number; fileDescriptor: number },
      context: CallContext,
    ) {
      record("TaskExecStdioRead", request, context);
      const exec = execOf(request.taskId, request.execId);
      const chunks = request.fileDescriptor === 0 ? exec.stdout : exec.stderr;
      let index = 0;
      let skip = Number(request.offset);
      for (;;) {
        while (index < chunks.length) {
          let data = chunks[index++]!;
          if (skip > 0) {
            const dropped = Math.min(skip, data.length);
            skip -= dropped;
            data = data.subarray(dropped);
            if (data.length === 0) continue;
          }
          yield { data };
        }
        if (exec.exit) return;
        await waitFor(
          exec.changed,
          () => index < chunks.length || exec.exit !== undefined,
          context.signal,
          60_000,
        );
        if (context.signal.aborted) return;
      }
    },
    async taskExecPoll(request: { taskId: string; execId: string }, context: CallContext) {
      record("TaskExecPoll", request, context);
      return execOf(request.taskId, request.execId).exit ?? {};
    },
    async taskExecWait(request: { taskId: string; execId: string }, context: CallContext) {
      record("TaskExecWait", request, context);
      const exec = execOf(request.taskId, request.execId);
      await waitFor(exec.changed, () => exec.exit !== undefined, context.signal, 55_000);
      if (!exec.exit) throw new ServerError(Status.DEADLINE_EXCEEDED, "still running");
      return exec.exit;
    },
  };

  const controlServer = createServer();
  controlServer.add(definitions.ModalClientDefinition, complete(definitions.ModalClientDefinition, control));
  const routerServer = createServer();
  routerServer.add(
    definitions.TaskCommandRouterDefinition,
    complete(definitions.TaskCommandRouterDefinition, router),
  );
  const controlPort = await controlServer.listen("127.0.0.1:0");
  const routerPort = await routerServer.listen("127.0.0.1:0");
  // https: as the SDK requires; it dials without TLS because the control plane is on loopback.
  routerUrl = `https://127.0.0.1:${routerPort}`;

  return {
    url: `http://127.0.0.1:${controlPort}`,
    calls,
    sandboxes,
    failNext,
    stopSandbox(sandboxId) {
      const sandbox = sandboxes.get(sandboxId);
      if (sandbox) stop(sandbox, GENERIC_STATUS_SUCCESS, "stop");
    },
    async close() {
      for (const sandbox of sandboxes.values()) stop(sandbox, GENERIC_STATUS_TERMINATED, "terminate");
      await Promise.all([controlServer.shutdown(), routerServer.shutdown()]);
    },
  };
}

export { Metadata, Status };
