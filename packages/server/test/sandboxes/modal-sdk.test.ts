import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { fileURLToPath } from "node:url";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runModalDoctor } from "../../src/cli/modal-doctor.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { runSandboxProviderContract } from "../../src/sandboxes/sandbox-contract.js";
import type { SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { type FakeModalContainers, fakeModalContainers } from "./modal-fake-containers.js";
import { type FakeModalApi, startFakeModalApi } from "./modal-grpc-fake.js";

/*
 * The provider with the real `modal` SDK (its own transport, encoders and
 * error mapping) against an in-process fake of Modal's gRPC API
 * (modal-grpc-fake.ts), reached through MODAL_SERVER_URL. Commands run on
 * this machine through `setpriv`, so the suite needs root.
 */
const tokens = { tokenId: "ak-sdk", tokenSecret: "as-sdk" };
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("Modal provider over the real SDK against a fake Modal API", () => {
  let api: FakeModalApi;
  let dir: string;
  let savedUrl: string | undefined;
  const provider = (options: Parameters<typeof createModalSandboxProvider>[0] = {}): SandboxProvider =>
    createModalSandboxProvider({
      ...tokens,
      appName: "sdk-test",
      runnerBundle: null,
      workspaceDir: join(dir, "workspace"),
      homeDir: join(dir, "home"),
      ...options,
    });

  beforeAll(async () => {
    api = await startFakeModalApi(tokens);
    savedUrl = process.env.MODAL_SERVER_URL;
    process.env.MODAL_SERVER_URL = api.url;
    dir = await mkdtemp(join(tmpdir(), "modal-sdk-"));
    await chmod(dir, 0o755);
    for (const folder of ["workspace", "home"]) {
      await mkdir(join(dir, folder));
      await chown(join(dir, folder), 1000, 1000);
    }
    await mkdir("/run/agent-runtime", { recursive: true, mode: 0o700 });
  });

  afterAll(async () => {
    if (savedUrl === undefined) delete process.env.MODAL_SERVER_URL;
    else process.env.MODAL_SERVER_URL = savedUrl;
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("checks the credentials with the SDK's App lookup, and maps a rejected token", async () => {
    await provider().check();
    const app = api.calls.find((call) => call.method === "AppGetOrCreate");
    expect(app?.request).toMatchObject({ appName: "sdk-test", objectCreationType: 1 });

    const wrong = createModalSandboxProvider({
      tokenId: "ak-sdk",
      tokenSecret: "as-wrong",
      runnerBundle: null,
    });
    await expect(wrong.check()).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
      message: expect.stringMatching(
        /Token ID\/secret is invalid.*check MODAL_TOKEN_ID and MODAL_TOKEN_SECRET/,
      ),
    });
  });

  it("creates a sandbox with the request the SDK encodes, runs commands and files through the command router", async () => {
    const sandboxes = provider({
      image: { dockerfileCommands: ["RUN echo one", "RUN echo two"] },
      secrets: ["anthropic"],
    });
    const sandbox = await sandboxes.create({ name: "session-1", env: { FOO: "bar" } });
    expect(sandbox.id).toMatch(/^sb-v2fake-/);

    const images = api.calls.filter((call) => call.method === "ImageGetOrCreate");
    const layers = images.map(
      (call) => (call.request.image as { dockerfileCommands: string[] }).dockerfileCommands,
    );
    expect(layers[0]![0]).toBe("FROM node:20-slim");
    // One Modal layer per Dockerfile command, each on top of the one before: a changed step rebuilds from there.
    expect(layers.slice(1).every((commands) => commands[0] === "FROM base" && commands.length === 2)).toBe(
      true,
    );
    expect(layers.at(-1)).toEqual(["FROM base", "RUN echo two"]);

    const create = api.calls.find((call) => call.method === "SandboxCreateV2")!.request as {
      definition: Record<string, unknown>;
      secretSources: { env?: { contents: Record<string, string> }; secretId?: string }[];
    };
    expect(create.definition).toMatchObject({ name: "session-1", workdir: join(dir, "workspace") });
    expect(create.secretSources.map((source) => source.env?.contents)).toContainEqual({ FOO: "bar" });
    expect(api.calls.find((call) => call.method === "SecretGetOrCreate")?.request).toMatchObject({
      deploymentName: "anthropic",
    });
    expect(create.secretSources).toContainEqual(expect.objectContaining({ secretId: "st-anthropic" }));

    const child = sandbox.exec(["sh", "-c", 'echo "$FOO as $(id -u)"; cat; echo oops >&2; exit 3']);
    child.stdin.end("piped through stdin\n");
    const [stdout, stderr, status] = await Promise.all([
      text(child.stdout),
      text(child.stderr),
      child.exited,
    ]);
    expect(stdout).toBe("bar as 1000\npiped through stdin\n");
    expect(stderr).toBe("oops\n");
    expect(status.code).toBe(3);

    await sandbox.writeFiles([{ path: join(dir, "workspace", "a.txt"), content: "alpha" }]);
    expect(Buffer.from(await sandbox.readFile(join(dir, "workspace", "a.txt"))).toString()).toBe("alpha");
    await expect(sandbox.readFile(join(dir, "workspace", "missing"))).rejects.toMatchObject({
      code: "FILE_NOT_FOUND",
    });

    await sandbox.terminate();
    await sandbox.terminated;
    expect(api.calls.some((call) => call.method === "SandboxTerminateV2")).toBe(true);
  });

  it("takes over a running sandbox of the same name after ALREADY_EXISTS, found by name", async () => {
    const first = await provider().create({ name: "takeover" });
    const restarted = provider();
    const taken = await restarted.create({ name: "takeover" });
    expect(taken.id).toBe(first.id);
    expect(api.calls.filter((call) => call.method === "SandboxGetFromNameV2").at(-1)?.request).toMatchObject({
      sandboxName: "takeover",
      appName: "sdk-test",
    });
    await restarted.remove("takeover");
    await first.terminated;
    await restarted.remove("takeover");
  });

  it("runs on Modal's V1 sandbox backend when asked, whatever the SDK's environment says", async () => {
    const saved = process.env.MODAL_SANDBOX_V2;
    process.env.MODAL_SANDBOX_V2 = "1";
    try {
      const from = api.calls.length;
      const sandboxes = provider({ sandboxBackend: "v1" });
      const sandbox = await sandboxes.create({ name: "on-v1", env: { FOO: "v1" } });
      const methods = api.calls.slice(from).map((call) => call.method);
      expect(methods).toContain("SandboxCreate");
      expect(methods).not.toContain("SandboxCreateV2");
      expect(api.sandboxes.get(sandbox.id)?.backend).toBe("v1");
      const child = sandbox.exec(["sh", "-c", 'echo "$FOO"']);
      child.stdin.end();
      expect(await text(child.stdout)).toBe("v1\n");
      // A second server process on V1 finds it by name through V1's lookup, with its lifetime.
      const taken = await provider({ sandboxBackend: "v1" }).create({ name: "on-v1" });
      expect(taken.id).toBe(sandbox.id);
      expect(taken.expiresAt).toBe(sandbox.expiresAt);
      expect(api.calls.slice(from).map((call) => call.method)).toEqual(
        expect.arrayContaining(["SandboxGetFromName", "SandboxTagsGet"]),
      );
      await taken.terminate();
      await sandbox.terminated;
      expect(api.calls.slice(from).map((call) => call.method)).toContain("SandboxTerminate");
    } finally {
      if (saved === undefined) delete process.env.MODAL_SANDBOX_V2;
      else process.env.MODAL_SANDBOX_V2 = saved;
    }
  });

  it("runs on the V2 backend when asked, whatever the SDK's environment says", async () => {
    const saved = process.env.MODAL_SANDBOX_V2;
    process.env.MODAL_SANDBOX_V2 = "0";
    try {
      const from = api.calls.length;
      const sandbox = await provider({ sandboxBackend: "v2" }).create({ name: "on-v2" });
      expect(api.calls.slice(from).map((call) => call.method)).toContain("SandboxCreateV2");
      expect(api.sandboxes.get(sandbox.id)?.backend).toBe("v2");
      await sandbox.terminate();
    } finally {
      if (saved === undefined) delete process.env.MODAL_SANDBOX_V2;
      else process.env.MODAL_SANDBOX_V2 = saved;
    }
  });

  it("sees a sandbox Modal stopped, and treats terminating it afterwards (gRPC NOT_FOUND) as done", async () => {
    const sandbox = await provider().create({ name: "stopped" });
    api.stopSandbox(sandbox.id);
    await sandbox.terminated;
    const again = await provider().create({ name: "stopped-2" });
    api.sandboxes.get(again.id)!.result = { status: 1, exitcode: 0 };
    await again.terminate();
    await again.terminated;
  });
});

/*
 * The shared sandbox contract, and the doctor's full run (runner bundle
 * uploaded through the SDK's stdin writes, a real Claude Code turn), with
 * the real SDK against the fake API, each fake sandbox in a mount namespace
 * with its own workspace, home, runner and pid folders.
 */
if (isRoot) {
  let contract: FakeModalContainers | undefined;
  runSandboxProviderContract({
    name: "modal (real SDK, fake Modal API, commands run on this machine)",
    createProvider: async () => {
      await contract?.close();
      contract = await fakeModalContainers();
      await contract.start(tokens);
      return createModalSandboxProvider({
        ...tokens,
        runnerBundle: null,
        workspaceDir: contract.workspaceDir,
        homeDir: contract.homeDir,
        runnerCommand: [process.execPath],
      });
    },
    cleanup: async () => {
      await contract?.close();
      contract = undefined;
    },
    skip: {
      "the sandbox's uid never maps to host root":
        "the fake runs sandboxes in this machine's first user namespace, where uid 0 is host root; modal-live.test.ts checks Modal's own",
    },
  });

  describe("agent-runtime doctor over the real SDK against a fake Modal API", () => {
    let model: MockModel;
    let containers: FakeModalContainers;
    let api: FakeModalApi;
    beforeAll(async () => {
      // The model's name, as the image resolves it (on Modal: DNS): the doctor's turn goes through the key proxy.
      containers = await fakeModalContainers({ hosts: "127.0.0.1\tlocalhost\n127.0.0.1\tmodel.test\n" });
      api = await containers.start(tokens);
      model = await startMockModel({
        script: {
          rules: [{ name: "doctor", match: { prompt: "short sentence" }, replies: ["Ready over gRPC."] }],
        },
      });
    });
    afterAll(async () => {
      await model?.close();
      await containers?.close();
    });

    it("uploads the runner bundle, starts the key proxy and runs a real Claude Code turn through it", async () => {
      const lines: string[] = [];
      const ok = await runModalDoctor({
        modal: {
          ...tokens,
          workspaceDir: containers.workspaceDir,
          homeDir: containers.homeDir,
        },
        model: { baseUrl: model.url.replace("127.0.0.1", "model.test"), apiKey: "sk-doctor" },
        write: (line) => lines.push(line),
      });
      expect(ok, lines.join("\n")).toBe(true);
      expect(JSON.stringify(api.calls)).not.toContain("sk-doctor");
      expect(lines.find((line) => line.startsWith("ok   agent turn"))).toContain("Ready over gRPC.");
      const writes = api.calls.filter((call) => call.method === "TaskExecStdinWrite");
      const bundleBytes = readFileSync(
        fileURLToPath(new URL("../../../runner/dist/bundle/runner.mjs", import.meta.url)),
      ).byteLength;
      expect(writes.reduce((sum, call) => sum + Number(call.request.data), 0)).toBeGreaterThanOrEqual(
        bundleBytes,
      );
      expect(api.calls.some((call) => call.method === "SandboxTerminateV2")).toBe(true);
    });
  });
}
