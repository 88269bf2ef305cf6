import { randomUUID } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProfile, agentProfileSchema } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DependencySources, dependencyLayerOf } from "../../src/dependencies/dependency-layer.js";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxLayerSpec, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { packPackage, registryHandler } from "../support/npm-registry-stand-in.js";
import { buildPythonWheel } from "../support/python-wheel.js";

/**
 * A profile's packages in a real layer: built once in a sandbox of its own
 * from a registry stand-in (npm) and a folder of wheels the test builds
 * (pip), then mounted read-only into sandboxes whose scripts import them
 * with no setup (`require`, `import`, Python's `import`) while the sandbox
 * itself cannot reach the registry.
 */
const testRoot = await mkdtemp(join(tmpdir(), "layers-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);

function profileWith(fields: Partial<AgentProfile>): AgentProfile {
  return agentProfileSchema.parse({ id: "deps", name: "Deps", ...fields });
}

describe("local sandbox layers", () => {
  let provider: SandboxProvider;
  let registry: Server;
  let registryUrl: string;
  let sources: DependencySources;
  /** Paths the registry stand-in was asked for. */
  const requests: string[] = [];
  const sandboxes: Sandbox[] = [];

  const create = async (layer: string | undefined, allow: readonly string[] = []) => {
    const sandbox = await provider.create({
      name: `layers-${randomUUID().slice(0, 8)}`,
      network: { allow },
      ...(layer ? { layer } : {}),
    });
    sandboxes.push(sandbox);
    return sandbox;
  };
  const sh = (sandbox: Sandbox, script: string) => runInSandbox(sandbox, ["bash", "-c", script]);

  beforeAll(async () => {
    const packages = await Promise.all(
      ["layer-dep-a", "layer-dep-b"].map((name) =>
        packPackage(join(testRoot, "packages"), name, `${name} works`),
      ),
    );
    registry = createServer((req, res) => {
      requests.push(req.url ?? "");
      handler(req, res);
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;
    const handler = registryHandler(registryUrl.slice(0, -1), packages);
    const wheels = join(testRoot, "wheels");
    await buildPythonWheel(wheels, "layerwheel", "layerwheel works");
    await chmod(wheels, 0o755);
    sources = { npmRegistry: registryUrl, pipFindLinks: [wheels] };
    provider = createLocalSandboxProvider({ rootDir: join(testRoot, "sandboxes") });
    await provider.check();
  });

  afterAll(async () => {
    await Promise.all(sandboxes.map((sandbox) => sandbox.terminate()));
    await new Promise((resolve) => registry?.close(resolve));
    await rm(testRoot, { recursive: true, force: true });
  });

  const layerOf = (fields: Partial<AgentProfile>): SandboxLayerSpec => {
    const spec = dependencyLayerOf(profileWith(fields), sources, "test-image");
    if (!spec) throw new Error("expected a layer");
    return spec;
  };

  it("builds a layer once; its packages import from the workspace with no setup, read-only", async () => {
    const spec = layerOf({ dependencies: { npm: ["layer-dep-a"], pip: ["layerwheel"] } });
    const output: string[] = [];
    await Promise.all([
      provider.prepareLayer!({ ...spec, onOutput: (text) => output.push(text) }),
      provider.prepareLayer!(spec),
    ]);
    expect(requests.filter((path) => path === "/layer-dep-a")).toHaveLength(1);
    expect(output.join("")).toContain("$ npm install");

    await provider.prepareLayer!(spec);
    expect(requests.filter((path) => path === "/layer-dep-a")).toHaveLength(1);

    const sandbox = await create(spec.key);
    await sandbox.writeFiles([
      { path: `${sandbox.workspaceDir}/cjs.js`, content: 'console.log(require("layer-dep-a"));\n' },
      { path: `${sandbox.workspaceDir}/esm.mjs`, content: 'import a from "layer-dep-a";\nconsole.log(a);\n' },
      { path: `${sandbox.workspaceDir}/py.py`, content: "import layerwheel\nprint(layerwheel.VALUE)\n" },
    ]);
    const run = await sh(sandbox, "node cjs.js && node esm.mjs && python3 py.py");
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("layer-dep-a works\nlayer-dep-a works\nlayerwheel works\n");
    expect(run.code).toBe(0);

    const write = await sh(
      sandbox,
      "touch /opt/agent-runtime/layer/x 2>&1; touch /node_modules/x 2>&1; rm -rf /node_modules/layer-dep-a 2>&1; ls /node_modules",
    );
    expect(write.stdout).toContain("Read-only file system");
    expect(write.stdout).toContain("layer-dep-a");
  });

  it("a sandbox with a layer still cannot reach the registry its layer was built from", async () => {
    const spec = layerOf({ dependencies: { npm: ["layer-dep-a"], pip: ["layerwheel"] } });
    await provider.prepareLayer!(spec);
    const sandbox = await create(spec.key);
    const before = requests.length;
    const fetch = await sh(
      sandbox,
      `node -e 'fetch(${JSON.stringify(`${registryUrl}layer-dep-a`)}).then(() => console.log("reached"), () => console.log("refused"))'`,
    );
    expect(fetch.stdout.trim()).toBe("refused");
    expect(requests.length).toBe(before);
  });

  it("a layer that cannot be built fails with the installer's output and leaves nothing behind", async () => {
    const spec = layerOf({ dependencies: { npm: ["layer-dep-missing"] } });
    const error = await provider.prepareLayer!(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "DEPENDENCIES_FAILED" });
    expect((error as Error).message).toContain("npm install");
    expect((error as Error).message).toMatch(/404|Not Found/i);
    const layers = await readdir(join(testRoot, "sandboxes", ".layers"));
    expect(layers.filter((name) => name.includes(spec.key))).toEqual([]);
    const folders = await readdir(join(testRoot, "sandboxes"));
    expect(folders.filter((name) => name.startsWith("layer-"))).toEqual([]);
    await expect(
      provider.create({ name: `layers-${randomUUID().slice(0, 8)}`, layer: spec.key }),
    ).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
    });
  });

  it("a build reaches only the registry: the build of a pip package with no index and no wheel fails", async () => {
    const spec = layerOf({ dependencies: { pip: ["not-a-wheel-here"] } });
    await expect(provider.prepareLayer!(spec)).rejects.toMatchObject({ code: "DEPENDENCIES_FAILED" });
  });

  it("seals what a build leaves as hostile: links kept as links, no hard links, nothing but files and folders", async () => {
    const layer = (key: string, script: string): SandboxLayerSpec => ({
      key,
      files: [],
      commands: [{ command: ["sh", "-c", script] }],
    });
    const shadowMode = (await stat("/etc/passwd")).mode;
    const linked = layer(
      "ab".repeat(16),
      "echo x > a && ln -s /etc/passwd passwd && mkfifo pipe && chmod 777 a",
    );
    await provider.prepareLayer!(linked);
    const built = join(testRoot, "sandboxes", ".layers", linked.key);
    expect((await lstat(join(built, "passwd"))).isSymbolicLink()).toBe(true);
    expect((await stat("/etc/passwd")).mode).toBe(shadowMode);
    expect((await stat(join(built, "a"))).mode & 0o777).toBe(0o755);
    expect((await stat(join(built, "a"))).uid).toBe(process.getuid?.());
    await expect(lstat(join(built, "pipe"))).rejects.toMatchObject({ code: "ENOENT" });

    const hard = layer("cd".repeat(16), "echo x > a && ln a b");
    await expect(provider.prepareLayer!(hard)).rejects.toMatchObject({
      code: "DEPENDENCIES_FAILED",
      message: expect.stringContaining("hard link"),
    });
  });

  it("removes what a build cut short by a server stop left, before the next build", async () => {
    const store = join(testRoot, "layers-after-stop");
    const stopped = createLocalSandboxProvider({ rootDir: store });
    const leftover = join(store, ".layers", `.build-${"ef".repeat(16)}-12345678`);
    await mkdir(join(leftover, "node_modules"), { recursive: true });
    await stopped.prepareLayer!({ key: "ef".repeat(16), files: [], commands: [{ command: ["true"] }] });
    await expect(lstat(leftover)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readdir(join(store, ".layers"))).toEqual(["ef".repeat(16)]);
  });

  it("stops a build that outlasts its timeout, with DEPENDENCIES_FAILED", async () => {
    const slow: SandboxLayerSpec = {
      key: "0a".repeat(16),
      files: [],
      commands: [{ command: ["sh", "-c", "echo started; sleep 30"] }],
      timeoutMs: 1_000,
    };
    const started = Date.now();
    await expect(provider.prepareLayer!(slow)).rejects.toMatchObject({
      code: "DEPENDENCIES_FAILED",
      message: expect.stringMatching(/took longer than 1 s[\s\S]*started/),
    });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
