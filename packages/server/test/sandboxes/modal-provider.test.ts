import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { ClientError, Status } from "nice-grpc";
import { extract } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RuntimeError } from "../../src/errors.js";
import { modalSandboxName } from "../../src/sandboxes/modal/modal-sandbox-name.js";
import type { ModalSandboxOptions } from "../../src/sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { runSandboxProviderContract } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProcess } from "../../src/sandboxes/sandbox-provider.js";
import { FakeModal, type FakeModalOptions } from "./modal-fake-client.js";

const credentials = { tokenId: "ak-test", tokenSecret: "as-test" };
/** Where the provider keeps the pid files of commands inside a sandbox (root-only). */
const PID_DIR = "/run/agent-runtime";

/** A provider over the fake; without a runner bundle unless `options` names one (modal-runner-upload.test.ts covers it). */
function setup(options: ModalSandboxOptions = {}, fake: FakeModalOptions = {}) {
  const modal = new FakeModal(fake);
  const provider = createModalSandboxProvider({
    ...credentials,
    runnerBundle: null,
    ...options,
    createClient: modal.factory,
  });
  return { modal, provider };
}

async function rejection(promise: Promise<unknown>): Promise<RuntimeError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  return error as RuntimeError;
}

async function untar(bytes: Uint8Array): Promise<Map<string, { mode: number; content: string }>> {
  const entries = new Map<string, { mode: number; content: string }>();
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on("entry", (header, stream, next) => {
      text(stream).then((content) => {
        entries.set(header.name, { mode: header.mode ?? 0, content });
        next();
      }, reject);
    });
    reader.on("finish", resolve);
    reader.on("error", reject);
  });
  reader.end(Buffer.from(bytes));
  await done;
  return entries;
}

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`/modal.client.ModalClient/AppGetOrCreate ${details}`), {
    name: "ClientError",
    code,
  });
}

describe("Modal provider: options and capabilities", () => {
  it("declares attach, a non-root user, a network policy it checks and layers; says the system is not read-only", () => {
    const { provider } = setup();
    expect(provider.id).toBe("modal");
    expect(provider.capabilities).toEqual({
      attach: true,
      nonRootUser: true,
      readOnlySystem: false,
      networkPolicy: true,
      layers: true,
    });
  });

  it.each<[string, ModalSandboxOptions]>([
    ["a lifetime that is not whole seconds", { timeoutMs: 1500 }],
    ["a lifetime over 24 h", { timeoutMs: 25 * 60 * 60 * 1000 }],
    ["an App name Modal rejects", { appName: "my app" }],
    ["a relative workspace", { workspaceDir: "workspace" }],
    ["a home inside the workspace", { workspaceDir: "/w", homeDir: "/w/home" }],
    ["blockAll with an allow-list", { network: { blockAll: true, allowCidrs: ["10.0.0.0/8"] } }],
  ])("rejects %s with VALIDATION_FAILED", (_, options) => {
    expect(() => createModalSandboxProvider(options)).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });

  it("does no I/O at construction", () => {
    const { modal } = setup();
    expect(modal.credentials).toEqual([]);
  });
});

describe("Modal provider: check()", () => {
  it("fails without credentials, naming the variables, before any call to Modal", async () => {
    const modal = new FakeModal();
    const provider = createModalSandboxProvider({ createClient: modal.factory, tokenId: "ak-only-id" });
    const error = await rejection(provider.check());
    expect(error.code).toBe("SANDBOX_FAILED");
    expect(error.message).toContain("set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET");
    expect(modal.credentials).toEqual([]);
    expect((await rejection(provider.create({ name: "s" }))).code).toBe("SANDBOX_FAILED");
    expect(modal.credentials).toEqual([]);
  });

  it("verifies the credentials with one App lookup", async () => {
    const { modal, provider } = setup({ appName: "my-runtime", environment: "dev" });
    await provider.check();
    expect(modal.credentials).toEqual([{ ...credentials, environment: "dev" }]);
    expect(modal.ensureAppCalls).toEqual(["my-runtime"]);
  });

  it("maps rejected credentials to SANDBOX_FAILED with a hint, keeping the cause", async () => {
    const { modal, provider } = setup();
    const cause = grpcError(16, "UNAUTHENTICATED: invalid token");
    modal.failNext.ensureApp = cause;
    const error = await rejection(provider.check());
    expect(error.code).toBe("SANDBOX_FAILED");
    expect(error.message).toMatch(/Modal check .*invalid token.*check MODAL_TOKEN_ID and MODAL_TOKEN_SECRET/);
    expect(error.cause).toBe(cause);
    expect(error.message).not.toContain(credentials.tokenSecret);
  });
});

describe("Modal provider: create, take over and remove", () => {
  it("builds the sandbox request from the options and the spec", async () => {
    const { modal, provider } = setup({
      appName: "ar",
      secrets: ["anthropic"],
      cpu: 2,
      memoryMiB: 4096,
      timeoutMs: 7_200_000,
      idleTimeoutMs: 300_000,
      region: "us-east",
      uid: 1500,
      gid: 1600,
      network: { allowDomains: ["api.anthropic.com"] },
      image: { dockerfileCommands: ["RUN apt-get update && apt-get install -y git"] },
    });
    const before = Date.now();
    const sandbox = await provider.create({ name: "session-1", env: { FOO: "bar" } });

    expect(sandbox.name).toBe("session-1");
    expect(sandbox.id).toBe("sb-fake-1");
    expect(sandbox.workspaceDir).toBe("/workspace");
    expect(sandbox.homeDir).toBe("/home/agent");
    expect(sandbox.runnerCommand).toEqual(["node", "/opt/agent-runtime/runner/runner.mjs"]);
    expect(modal.createRequests).toHaveLength(1);
    const request = modal.createRequests[0]!;
    expect(request.appName).toBe("ar");
    expect(request.secretNames).toEqual(["anthropic"]);
    expect(request.params).toEqual({
      name: "session-1",
      cpu: 2,
      memoryMiB: 4096,
      memoryLimitMiB: 4096,
      timeoutMs: 7_200_000,
      idleTimeoutMs: 300_000,
      workdir: "/workspace",
      env: { FOO: "bar" },
      // The provider's tag (by which the start-up sweep lists its sandboxes), the sandbox's name, its lifetime.
      tags: {
        "agent-runtime": "session",
        "agent-runtime-sandbox": "session-1",
        "agent-runtime-expires-at": String(sandbox.expiresAt),
      },
      regions: ["us-east"],
      outboundDomainAllowlist: ["api.anthropic.com"],
    });
    // The lifetime counts from before the request: it never ends later than the sandbox says.
    expect(sandbox.expiresAt).toBeGreaterThanOrEqual(before + 7_200_000);
    expect(sandbox.expiresAt).toBeLessThanOrEqual(Date.now() + 7_200_000);
    expect(request.image.base).toBe("node:20-slim");
    const commands = request.image.dockerfileCommands;
    expect(commands[0]).toContain("useradd --uid 1500 --gid 1600 --home-dir '/home/agent'");
    expect(commands[1]).toContain("chown 1500:1600 '/workspace' '/home/agent'");
    expect(commands[2]).toContain("/etc/gitconfig");
    expect(commands.at(-1)).toBe("RUN apt-get update && apt-get install -y git");
  });

  it("leaves the runner out of the image when the base image has it", async () => {
    const { modal, provider } = setup({ image: { base: "ghcr.io/me/agent:1" }, runnerBundle: null });
    await provider.create({ name: "s" });
    const image = modal.createRequests[0]!.image;
    expect(image.base).toBe("ghcr.io/me/agent:1");
    expect(image.dockerfileCommands.join("\n")).not.toContain("npm install");
    expect(modal.execCalls).toEqual([]);
  });

  it("blocks all egress when asked", async () => {
    const { modal, provider } = setup({ network: { blockAll: true } });
    await provider.create({ name: "s" });
    expect(modal.createRequests[0]!.params).toMatchObject({ blockNetwork: true });
    expect(modal.createRequests[0]!.params).not.toHaveProperty("outboundCidrAllowlist");
  });

  it("names sandboxes deterministically within Modal's rules", () => {
    expect(modalSandboxName("ses_01HZX.a-b")).toBe("ses_01HZX.a-b");
    const odd = modalSandboxName("tenant/α session:1");
    expect(odd).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    expect(odd).toBe(modalSandboxName("tenant/α session:1"));
    expect(odd).not.toBe(modalSandboxName("tenant/β session:1"));
    const long = modalSandboxName("x".repeat(200));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).not.toBe(modalSandboxName("x".repeat(201)));
    expect(modalSandboxName(`ap-${"a".repeat(22)}`)).not.toBe(`ap-${"a".repeat(22)}`);
  });

  it("takes over a sandbox of the same name another server process left running", async () => {
    const { modal, provider } = setup({ appName: "ar" });
    const created = await provider.create({ name: "tenant/session 7" });
    const restarted = createModalSandboxProvider({
      ...credentials,
      appName: "ar",
      runnerBundle: null,
      createClient: modal.factory,
    });
    const taken = await restarted.create({ name: "tenant/session 7", env: { NEW: "1" } });

    expect(taken.id).toBe(created.id);
    expect(taken.name).toBe("tenant/session 7");
    expect(modal.findCalls).toEqual([{ appName: "ar", name: modalSandboxName("tenant/session 7") }]);
    expect(modal.createRequests).toHaveLength(2);
    const [stop] = modal.execCalls;
    expect(stop?.argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(stop?.argv[2]).toContain('kill -s KILL -- "-$(cat "$p")"');
    taken.exec(["true"]).stdin.end();
    await vi.waitFor(() => expect(modal.execCalls).toHaveLength(2));
    expect(modal.execCalls[1]!.params.env).toMatchObject({ NEW: "1" });
    // The lifetime is the first server's: Modal stops the sandbox then, whoever holds it.
    expect(taken.expiresAt).toBe(created.expiresAt);
  });

  it("says a sandbox it takes over without a recorded lifetime ends now, so the runtime hands it over at once", async () => {
    const { modal, provider } = setup();
    const first = await provider.create({ name: "old" });
    // As a sandbox an earlier version of the provider started: no tags.
    modal.running.get("old")!.tagged = {};
    const before = Date.now();
    const taken = await createModalSandboxProvider({
      ...credentials,
      runnerBundle: null,
      createClient: modal.factory,
    }).create({ name: "old" });
    expect(taken.id).toBe(first.id);
    expect(taken.expiresAt).toBeGreaterThanOrEqual(before);
    expect(taken.expiresAt).toBeLessThanOrEqual(Date.now());
  });

  it("creates the sandbox when the one holding the name stopped before the lookup", async () => {
    const { modal, provider } = setup();
    modal.failNext.createSandbox = Object.assign(new Error("Sandbox 's' already exists"), {
      name: "AlreadyExistsError",
    });
    const sandbox = await provider.create({ name: "s" });
    expect(sandbox.id).toBe("sb-fake-1");
    expect(modal.findCalls).toEqual([{ appName: "agent-runtime", name: "s" }]);
    expect(modal.execCalls).toEqual([]);
  });

  it("fails create with SANDBOX_FAILED when the sandbox to take over cannot be looked up or cleared", async () => {
    const { modal, provider } = setup({}, { onExec: () => ({ code: 1, stderr: "cannot signal" }) });
    await provider.create({ name: "s" });
    modal.failNext.findSandbox = grpcError(14, "UNAVAILABLE: connection reset");
    const lookup = await rejection(provider.create({ name: "s" }));
    expect(lookup.code).toBe("SANDBOX_FAILED");
    expect(lookup.message).toMatch(/create sandbox "s" failed: .*connection reset/);
    const clear = await rejection(provider.create({ name: "s" }));
    expect(clear.code).toBe("SANDBOX_FAILED");
    expect(clear.message).toContain("stop the commands left running failed: exit code 1: cannot signal");
  });

  it("removes a running sandbox by name from any provider instance, idempotently", async () => {
    const { modal, provider } = setup({ appName: "ar" });
    const created = await provider.create({ name: "tenant/session 7" });
    const other = createModalSandboxProvider({
      ...credentials,
      appName: "ar",
      runnerBundle: null,
      createClient: modal.factory,
    });
    await other.remove("tenant/session 7");
    await created.terminated;
    expect(modal.terminateCalls).toEqual([created.id]);
    await other.remove("tenant/session 7");
    await other.remove("never-created");
    expect(modal.terminateCalls).toEqual([created.id]);
    expect(modal.findCalls.map((call) => call.name)).toEqual([
      modalSandboxName("tenant/session 7"),
      modalSandboxName("tenant/session 7"),
      "never-created",
    ]);
  });

  it("treats a sandbox gone before remove terminates it as removed, and maps other failures", async () => {
    const { modal, provider } = setup();
    await provider.create({ name: "s" });
    modal.failNext.terminate = new ClientError(
      "/modal.client.ModalClient/SandboxTerminate",
      Status.NOT_FOUND,
      "Sandbox not found",
    );
    await provider.remove("s");
    modal.failNext.findSandbox = grpcError(14, "UNAVAILABLE: connection reset");
    const error = await rejection(provider.remove("s"));
    expect(error.code).toBe("SANDBOX_FAILED");
    expect(error.message).toContain('Modal remove sandbox "s" failed');
  });
});

describe("Modal sandbox: requests (scripted)", () => {
  it("writes many files with one exec whose stdin is a tar", async () => {
    const { modal, provider } = setup();
    const sandbox = await provider.create({ name: "s" });
    const binary = new Uint8Array([0, 1, 2, 255]);
    const long = `/workspace/${"deep/".repeat(40)}file.txt`;
    await sandbox.writeFiles([
      { path: "/workspace/a.txt", content: "alpha" },
      { path: "/workspace/src/b.bin", content: binary },
      { path: "/home/agent/.claude/settings.json", content: "{}", readOnly: true },
      { path: long, content: "deep" },
    ]);

    expect(modal.execCalls).toHaveLength(1);
    const call = modal.execCalls[0]!;
    expect(call.argv.slice(0, 2)).toEqual(["bash", "-c"]);
    expect(call.argv[2]).toContain(
      "setpriv --reuid=1000 --regid=1000 --clear-groups --no-new-privs -- tar -x -f - -C /",
    );
    const list = [
      ["/workspace", "", "a.txt"],
      ["/workspace", "src", "b.bin"],
      ["/home/agent", ".claude", "settings.json"],
      ["/workspace", "deep/".repeat(40).slice(0, -1), "file.txt"],
    ]
      .map((target) => `${target.join("\0")}\0`)
      .join("");
    expect(call.argv.slice(3)).toEqual([
      "agent-runtime-write-files",
      String(list.length),
      "/home/agent",
      ".claude",
      "settings.json",
    ]);
    const stdin = await call.stdin;
    expect(Buffer.from(stdin.subarray(0, list.length)).toString()).toBe(list);
    const entries = await untar(stdin.subarray(list.length));
    expect([...entries.keys()]).toEqual([
      "workspace/a.txt",
      "workspace/src/b.bin",
      "home/agent/.claude/settings.json",
      long.slice(1),
    ]);
    expect(entries.get("workspace/a.txt")).toEqual({ mode: 0o644, content: "alpha" });
    expect(entries.get(long.slice(1))?.content).toBe("deep");
  });

  it.each([
    ["a relative path", "workspace/a"],
    ["a '..' segment", "/workspace/../etc/passwd"],
    ["a path outside workspace and home", "/etc/passwd"],
    ["the workspace itself", "/workspace"],
    ["a NUL byte", "/workspace/a\0b"],
    ["a sibling with the same prefix", "/workspace-other/a"],
  ])("rejects %s with INVALID_PATH before calling Modal", async (_, path) => {
    const { modal, provider } = setup();
    const sandbox = await provider.create({ name: "s" });
    const write = await rejection(
      sandbox.writeFiles([
        { path: "/workspace/ok", content: "fine" },
        { path, content: "x" },
      ]),
    );
    expect(write.code).toBe("INVALID_PATH");
    expect((await rejection(sandbox.readFile(path))).code).toBe("INVALID_PATH");
    expect((await rejection(sandbox.deleteFile(path))).code).toBe("INVALID_PATH");
    expect(modal.execCalls).toEqual([]);
  });

  it("runs commands in a new session, as the agent user, with the merged environment", async () => {
    const { modal, provider } = setup({}, { onExec: () => ({ stdout: "out", stderr: "err", code: 3 }) });
    const sandbox = await provider.create({ name: "s", env: { SPEC: "1", SHARED: "spec" } });
    const child = sandbox.exec(["node", "-e", "1"], { cwd: "/workspace/sub", env: { SHARED: "exec" } });
    child.stdin.end("input");
    const [out, err, status] = await Promise.all([text(child.stdout), text(child.stderr), child.exited]);

    expect({ out, err, status }).toEqual({ out: "out", err: "err", status: { code: 3, signal: null } });
    const call = modal.execCalls[0]!;
    expect(call.argv.slice(0, 4)).toEqual(["setsid", "-w", "sh", "-c"]);
    expect(call.argv[6]).toMatch(/^\/run\/agent-runtime\/exec-[0-9a-f-]{36}\.pid$/);
    expect(call.argv.slice(7)).toEqual([
      "setpriv",
      "--reuid=1000",
      "--regid=1000",
      "--clear-groups",
      "--no-new-privs",
      "--",
      "node",
      "-e",
      "1",
    ]);
    expect(call.params).toEqual({
      workdir: "/workspace/sub",
      env: {
        // The sandbox's mark on every command, by which a server taking it over finds what is left running.
        AGENT_RUNTIME_MODAL_SANDBOX: sandbox.id,
        HOME: "/home/agent",
        USER: "agent",
        LOGNAME: "agent",
        SPEC: "1",
        SHARED: "exec",
      },
    });
    expect(Buffer.from(await call.stdin).toString()).toBe("input");
  });

  it("reports a command Modal cannot start on stderr with exit code 255, without rejecting", async () => {
    const { modal, provider } = setup();
    const sandbox = await provider.create({ name: "s" });
    modal.failNext.exec = new Error("task not found");
    const child = sandbox.exec(["true"]);
    child.stdin.write("ignored");
    const [err, status] = await Promise.all([text(child.stderr), child.exited]);
    expect(status).toEqual({ code: 255, signal: null });
    expect(err).toContain("could not start the command: task not found");
  });

  it("maps a missing file to FILE_NOT_FOUND and a failing exec to SANDBOX_FAILED", async () => {
    const { modal, provider } = setup({}, { onExec: () => ({ code: 66 }) });
    const sandbox = await provider.create({ name: "s" });
    expect((await rejection(sandbox.readFile("/workspace/missing"))).code).toBe("FILE_NOT_FOUND");
    modal.failNext.exec = grpcError(14, "UNAVAILABLE: gone");
    const error = await rejection(sandbox.listWorkspace());
    expect(error.code).toBe("SANDBOX_FAILED");
    expect(error.message).toContain("Modal list workspace failed");
  });

  it("parses the workspace listing: files, and links with their targets", async () => {
    const listing =
      "f 5 1700000000.5 a.txt\u0000f 0 1700000001.0000000000 dir/with space\nand newline\u0000" +
      "l 11 1700000002 link to\u0000/etc/passwd\u0000";
    const { provider } = setup({}, { onExec: () => ({ stdout: listing }) });
    const sandbox = await provider.create({ name: "s" });
    expect(await sandbox.listWorkspace()).toEqual([
      { path: "a.txt", size: 5, modifiedAt: "2023-11-14T22:13:20.500Z" },
      { path: "dir/with space\nand newline", size: 0, modifiedAt: "2023-11-14T22:13:21.000Z" },
      { path: "link to", size: 11, modifiedAt: "2023-11-14T22:13:22.000Z", linkTarget: "/etc/passwd" },
    ]);
  });

  it("terminates once, however often it is asked, and resolves terminated", async () => {
    const { modal, provider } = setup();
    const sandbox = await provider.create({ name: "s" });
    await Promise.all([sandbox.terminate(), sandbox.terminate()]);
    await sandbox.terminate();
    await sandbox.terminated;
    expect(modal.terminateCalls).toEqual(["sb-fake-1"]);
  });

  it("treats a sandbox already gone as terminated, and retries a terminate that failed", async () => {
    const { modal, provider } = setup();
    const gone = await provider.create({ name: "gone" });
    // What the SDK's terminate() rejects with for a sandbox Modal no longer has: a gRPC status, not its NotFoundError.
    modal.failNext.terminate = new ClientError(
      "/modal.client.ModalClient/SandboxTerminate",
      Status.NOT_FOUND,
      "Sandbox not found",
    );
    await gone.terminate();
    await gone.terminated;

    const flaky = await provider.create({ name: "flaky" });
    modal.failNext.terminate = grpcError(14, "UNAVAILABLE");
    expect((await rejection(flaky.terminate())).code).toBe("SANDBOX_FAILED");
    await flaky.terminate();
    await flaky.terminated;
  });

  it("resolves terminated when Modal stops the sandbox on its own", async () => {
    const { modal, provider } = setup();
    const sandbox = await provider.create({ name: "s" });
    modal.running.get("s")!.stopExternally();
    await sandbox.terminated;
    expect(modal.terminateCalls).toEqual([]);
  });
});

/*
 * The commands the provider sends into a sandbox, run for real on this
 * machine through the fake transport: the workspace and home are temporary
 * folders, the agent is uid 1000 via setpriv. Needs root, like Modal's execs;
 * pid files go to this machine's /run/agent-runtime and are removed afterwards.
 */
const isRoot = process.getuid?.() === 0;
describe.skipIf(!isRoot)("Modal sandbox: in-sandbox commands on real tools (root)", () => {
  let dir: string;
  let sandbox: Sandbox;
  let modal: FakeModal;
  const ws = () => join(dir, "workspace");
  const home = () => join(dir, "home");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-modal-"));
    await chmod(dir, 0o755);
    for (const folder of [ws(), home(), join(dir, "outside")]) {
      await mkdir(folder);
      await chown(folder, 1000, 1000);
    }
    await writeFile(join(dir, "outside", "target"), "original");
    await chown(join(dir, "outside"), 0, 0);
    await chmod(join(dir, "outside"), 0o755);
    ({ modal, provider: providerUnderTest } = setup(
      { workspaceDir: ws(), homeDir: home() },
      { runLocally: true },
    ));
    sandbox = await providerUnderTest.create({ name: "local" });
  });
  let providerUnderTest: ReturnType<typeof setup>["provider"];

  afterAll(async () => {
    await sandbox?.terminate();
    const pidFiles = modal?.execCalls
      .map((call) => call.argv[6])
      .filter((p) => p?.startsWith("/run/agent-runtime/"));
    await Promise.all((pidFiles ?? []).map((p) => rm(p!, { force: true })));
    // /run/agent-runtime stays: removing it would detach the bind mounts on it that other suites' fake sandboxes hold.
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = async (command: string[], stdin?: string) => {
    const child: SandboxProcess = sandbox.exec(command);
    child.stdin.end(stdin);
    const [stdout, stderr, status] = await Promise.all([
      text(child.stdout),
      text(child.stderr),
      child.exited,
    ]);
    return { stdout, stderr, code: status.code };
  };

  it("round-trips files of many sizes and lists them", async () => {
    const sizes = [0, 1, 511, 512, 513, 65_536, 1024 * 1024 + 7];
    const files = sizes.map((size, i) => ({
      path: `${ws()}/sizes/f${i}.bin`,
      content: Uint8Array.from({ length: size }, (_, j) => (j * 31 + i) % 256),
    }));
    await sandbox.writeFiles(files);
    for (const file of files)
      expect(Buffer.from(await sandbox.readFile(file.path))).toEqual(Buffer.from(file.content));
    const listed = await sandbox.listWorkspace();
    expect(listed.map((entry) => [entry.path, entry.size])).toEqual(
      sizes.map((size, i) => [`sizes/f${i}.bin`, size]),
    );
    expect(Date.parse(listed[0]!.modifiedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await stat(files[0]!.path)).uid).toBe(1000);
  });

  it("runs as uid 1000 with NoNewPrivs, streams stdin to stdout and passes exit codes", async () => {
    expect(await run(["sh", "-c", "id -u; grep NoNewPrivs /proc/self/status"])).toMatchObject({
      stdout: "1000\nNoNewPrivs:\t1\n",
      code: 0,
    });
    expect(await run(["cat"], "piped")).toMatchObject({ stdout: "piped", code: 0 });
    expect(await run(["sh", "-c", "echo oops >&2; exit 7"])).toMatchObject({ stderr: "oops\n", code: 7 });
  });

  it("kills a command, even right after starting it, and its process group with it", async () => {
    // A duration of its own, so other suites' sleeping commands of uid 1000 do not count.
    const child = sandbox.exec(["sh", "-c", "sleep 31.4159 & sleep 31.4159"]);
    child.kill();
    expect((await child.exited).code).toBe(128 + 15);
    const alive = "ps -u 1000 -o stat=,args= | grep -v '^Z' | grep 'sleep 31.4159' | grep -v grep || true"; // zombies are gone already
    expect((await run(["sh", "-c", alive])).stdout).toBe("");
  });

  it("keeps read-only files out of the agent's reach, and lets the runtime rewrite them", async () => {
    const path = `${home()}/.claude/settings.json`;
    await sandbox.writeFiles([
      { path, content: "v1", readOnly: true },
      { path: `${home()}/.claude/own`, content: "x" },
    ]);
    const info = await lstat(path);
    expect({ uid: info.uid, mode: info.mode & 0o7777 }).toEqual({ uid: 0, mode: 0o444 });
    expect((await run(["sh", "-c", `echo hacked > '${path}'`])).code).not.toBe(0);
    expect((await run(["rm", "-f", path])).code).not.toBe(0);
    expect((await run(["mv", path, `${path}.moved`])).code).not.toBe(0);
    expect((await run(["sh", "-c", `echo mine > '${home()}/.claude/new-file'`])).code).toBe(0);
    expect(await readFile(path, "utf8")).toBe("v1");

    const swap = `mv '${home()}/.claude' '${home()}/.claude.old' && mkdir '${home()}/.claude' && echo evil > '${path}'`;
    expect((await run(["sh", "-c", swap])).code).not.toBe(0);
    expect((await lstat(home())).mode & 0o7777).toBe(0o1777);
    expect(await readFile(path, "utf8")).toBe("v1");

    await sandbox.writeFiles([{ path, content: "v2", readOnly: true }]);
    expect(await readFile(path, "utf8")).toBe("v2");
  });

  it("never writes, reads or deletes through a symlink pointing outside", async () => {
    const outside = join(dir, "outside");
    await symlink(outside, join(ws(), "link"));
    await symlink(join(outside, "target"), join(ws(), "file-link"));
    await symlink(join(outside, "target"), join(ws(), "read-link"));
    await sandbox.writeFiles([{ path: `${ws()}/file-link`, content: "replaced" }]).catch(() => undefined);
    await sandbox.writeFiles([{ path: `${ws()}/link/target`, content: "through" }]).catch(() => undefined);
    await sandbox.deleteFile(`${ws()}/link/target`).catch(() => undefined);
    expect(await readFile(join(outside, "target"), "utf8")).toBe("original");
    await chmod(join(outside, "target"), 0o600);
    expect((await rejection(sandbox.readFile(`${ws()}/read-link`))).code).toBe("SANDBOX_FAILED");
    expect((await lstat(join(ws(), "file-link"))).isFile()).toBe(true);
  });

  it("deletes files and ignores missing ones; reports missing files as FILE_NOT_FOUND", async () => {
    await sandbox.writeFiles([{ path: `${ws()}/gone.txt`, content: "x" }]);
    await sandbox.deleteFile(`${ws()}/gone.txt`);
    await sandbox.deleteFile(`${ws()}/gone.txt`);
    expect((await rejection(sandbox.readFile(`${ws()}/gone.txt`))).code).toBe("FILE_NOT_FOUND");
  });

  it("leaves no process behind after terminate", async () => {
    const child = sandbox.exec(["sleep", "30"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sandbox.terminate();
    await sandbox.terminated;
    expect((await child.exited).code).not.toBe(0);
  });
});

/*
 * The shared sandbox contract against the provider, its commands run for real
 * on this machine by the fake, each sandbox in a container of its own
 * (private workspace, home and pid folder). Needs root, like the block above.
 */
const containerRoot = isRoot ? await mkdtemp(join(tmpdir(), "agent-runtime-modal-contract-")) : "";
const containerOptions = (modal: FakeModal): ModalSandboxOptions => ({
  ...credentials,
  workspaceDir: join(containerRoot, "workspace"),
  homeDir: join(containerRoot, "home"),
  // What the contract checks of the runner command: that its absolute paths exist inside.
  runnerCommand: [process.execPath],
  runnerBundle: null,
  createClient: modal.factory,
});
const containerModal = async (): Promise<FakeModal> => {
  for (const folder of ["workspace", "home"]) await mkdir(join(containerRoot, folder), { recursive: true });
  await chmod(containerRoot, 0o755);
  await mkdir(PID_DIR, { recursive: true, mode: 0o700 });
  return new FakeModal({
    runLocally: true,
    containers: {
      dir: join(containerRoot, "containers"),
      folders: [
        { path: join(containerRoot, "workspace"), uid: 1000, mode: 0o755 },
        { path: join(containerRoot, "home"), uid: 1000, mode: 0o755 },
        { path: PID_DIR, uid: 0, mode: 0o700 },
      ],
    },
  });
};
const removeContainers = async () => {
  await rm(containerRoot, { recursive: true, force: true });
  // PID_DIR stays: removing it would detach the bind mounts on it that other suites' fake sandboxes hold.
};

if (isRoot) {
  runSandboxProviderContract({
    name: "modal (fake client, commands run on this machine)",
    createProvider: async () => createModalSandboxProvider(containerOptions(await containerModal())),
    cleanup: removeContainers,
    skip: {
      "the sandbox's uid never maps to host root":
        "the fake runs sandboxes in this machine's first user namespace, where uid 0 is host root; modal-live.test.ts checks Modal's own",
    },
  });

  describe("Modal provider: taking over a sandbox on real tools (root)", () => {
    afterAll(removeContainers);

    it("keeps the files and ends the commands a stopped server process left running", async () => {
      const modal = await containerModal();
      const options = containerOptions(modal);
      const first = await createModalSandboxProvider(options).create({ name: "takeover" });
      await first.writeFiles([{ path: `${options.workspaceDir}/left.txt`, content: "left behind" }]);
      const left = first.exec(["sh", "-c", "echo started; exec sleep 1000"]);
      left.stdin.end();
      await new Promise((resolve) => left.stdout.once("data", resolve));

      const restarted = createModalSandboxProvider(options);
      const taken = await restarted.create({ name: "takeover" });
      expect(taken.id).toBe(first.id);
      expect((await left.exited).code).toBe(128 + 9);
      expect(Buffer.from(await taken.readFile(`${options.workspaceDir}/left.txt`)).toString()).toBe(
        "left behind",
      );
      const child = taken.exec(["cat", "left.txt"]);
      child.stdin.end();
      expect(await text(child.stdout)).toBe("left behind");

      await restarted.remove("takeover");
      await Promise.all([first.terminated, taken.terminated]);
      const fresh = await restarted.create({ name: "takeover" });
      expect(fresh.id).not.toBe(first.id);
      expect(await fresh.listWorkspace()).toEqual([]);
      await restarted.remove("takeover");
    });
  });
} else {
  describe("modal (fake client, commands run on this machine)", () => {
    it.skip("skipped: the fake runs the provider's commands through setpriv and mount namespaces, which needs root", () => {});
  });
}
