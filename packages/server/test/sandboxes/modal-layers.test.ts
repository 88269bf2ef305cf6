import { execFile } from "node:child_process";
import { lstat, mkdtemp, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { SANDBOX_LAYER_DIR, type SandboxLayerSpec } from "../../src/sandboxes/sandbox-provider.js";
import { fakeModalProvider } from "./modal-fake-client.js";

/*
 * Profile layers on Modal: `prepareLayer` builds them as image layers on top
 * of the sandbox image (Modal caches images, so a layer is built once), and
 * `create` with `spec.layer` starts the sandbox from that image.
 */
const execFileAsync = promisify(execFile);

const spec: SandboxLayerSpec = {
  key: "0123456789abcdef0123",
  files: [
    { path: "package.json", content: '{"dependencies":{"left-pad":"1.3.0"}}' },
    { path: "mcp/it's here/server.js", content: new Uint8Array([0, 10, 255]) },
  ],
  commands: [
    { command: ["npm", "install", "--registry", "http://registry.example:4873/"] },
    { command: ["sh", "-c", 'printf "%s" "$GREETING" > out.txt'], cwd: "mcp/it's here" },
  ],
  env: { GREETING: "hello 'layer'\n$HOME" },
};

/** The shell script a `RUN echo <base64> | base64 -d | sh -e` step carries, or the step's own text. */
function scriptOf(step: string): string {
  const match = /^RUN echo ([A-Za-z0-9+/=]+) \| base64 -d \| sh -e$/.exec(step);
  return match ? Buffer.from(match[1]!, "base64").toString("utf8") : step.replace(/^RUN /, "");
}

describe("Modal provider: layers", () => {
  it("builds a layer as Dockerfile steps on top of the sandbox image, once per key", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null, appName: "ar" });
    let open!: () => void;
    modal.buildGate = new Promise((resolve) => {
      open = resolve;
    });
    const builds = [provider.prepareLayer!(spec), provider.prepareLayer!(spec)];
    await vi.waitFor(() => expect(modal.buildRequests).toHaveLength(1));
    open();
    await Promise.all(builds);
    await provider.prepareLayer!(spec);
    expect(modal.buildRequests).toHaveLength(1);

    const { appName, image } = modal.buildRequests[0]!;
    expect(appName).toBe("ar");
    await provider.create({ name: "plain" });
    const base = modal.createRequests[0]!.image;
    expect(image.base).toBe(base.base);
    expect(image.dockerfileCommands.slice(0, base.dockerfileCommands.length)).toEqual(
      base.dockerfileCommands,
    );
    const steps = image.dockerfileCommands.slice(base.dockerfileCommands.length).map(scriptOf);
    expect(steps).toEqual([
      `rm -rf ${SANDBOX_LAYER_DIR} && mkdir -p ${SANDBOX_LAYER_DIR}`,
      `mkdir -p '${SANDBOX_LAYER_DIR}' && printf %s '${Buffer.from(spec.files[0]!.content).toString("base64")}' | base64 -d > '${SANDBOX_LAYER_DIR}/package.json'`,
      `mkdir -p '${SANDBOX_LAYER_DIR}/mcp/it'\\''s here' && printf %s 'AAr/' | base64 -d > '${SANDBOX_LAYER_DIR}/mcp/it'\\''s here/server.js'`,
      `cd '${SANDBOX_LAYER_DIR}' && exec env 'GREETING=hello '\\''layer'\\''\n$HOME' 'npm' 'install' '--registry' 'http://registry.example:4873/'`,
      `cd '${SANDBOX_LAYER_DIR}/mcp/it'\\''s here' && exec env 'GREETING=hello '\\''layer'\\''\n$HOME' 'sh' '-c' 'printf "%s" "$GREETING" > out.txt'`,
      `mkdir -p ${SANDBOX_LAYER_DIR}/node_modules && chown -R 0:0 ${SANDBOX_LAYER_DIR} && chmod -R a-w ${SANDBOX_LAYER_DIR} && ln -sfn ${SANDBOX_LAYER_DIR}/node_modules /node_modules`,
    ]);
    // One Dockerfile line per step: nothing a file or argument holds can end it.
    for (const step of image.dockerfileCommands) expect(step).not.toMatch(/[\r\n]/);
  });

  it("starts a sandbox with a layer from the layer's image, with the layer's PATH and PYTHONPATH", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    await provider.prepareLayer!(spec);
    const sandbox = await provider.create({ name: "s", layer: spec.key, env: { FOO: "1" } });
    const request = modal.createRequests[0]!;
    expect(request.image).toEqual(modal.buildRequests[0]!.image);
    const env = {
      FOO: "1",
      PATH: `${SANDBOX_LAYER_DIR}/node_modules/.bin:${SANDBOX_LAYER_DIR}/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      PYTHONPATH: `${SANDBOX_LAYER_DIR}/python`,
    };
    expect(request.params.env).toEqual(env);
    sandbox.exec(["true"]).stdin.end();
    await vi.waitFor(() => expect(modal.execCalls).toHaveLength(1));
    expect(modal.execCalls[0]!.params.env).toMatchObject(env);
  });

  it("refuses a layer it did not prepare, before any call to Modal", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    await expect(provider.create({ name: "s", layer: spec.key })).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
      message: expect.stringContaining("was not prepared"),
    });
    expect(modal.createRequests).toEqual([]);
  });

  it("refuses host folders and paths outside the layer; reports a failed build as DEPENDENCIES_FAILED and builds again", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    await expect(provider.prepareLayer!({ ...spec, hostFolders: ["/srv/wheels"] })).rejects.toMatchObject({
      code: "SANDBOX_FAILED",
      message: expect.stringContaining("hostFolders"),
    });
    for (const path of ["../escape", "/abs", "a//b", "a/./b", ""]) {
      await expect(
        provider.prepareLayer!({ ...spec, files: [{ path, content: "x" }] }),
      ).rejects.toMatchObject({ code: "INVALID_PATH" });
    }
    await expect(
      provider.prepareLayer!({ ...spec, commands: [{ command: ["true"], cwd: "../.." }] }),
    ).rejects.toMatchObject({ code: "INVALID_PATH" });
    await expect(
      provider.prepareLayer!({ ...spec, files: [{ path: "big", content: new Uint8Array(1024 * 1024 + 1) }] }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(modal.buildRequests).toEqual([]);

    modal.failNext.buildImage = new Error(
      "Image build for im-1 failed with the exception: npm ERR! 404 left-pad",
    );
    await expect(provider.prepareLayer!(spec)).rejects.toMatchObject({
      code: "DEPENDENCIES_FAILED",
      message: expect.stringContaining("npm ERR! 404 left-pad"),
    });
    await provider.prepareLayer!(spec);
    expect(modal.buildRequests).toHaveLength(2);
  });
});

/*
 * The layer's steps run by `sh` as Docker's `RUN` runs them, with the layer
 * folder and `/node_modules` moved into a temporary folder (the only change
 * made to them), so the shell text is checked on real tools.
 */
describe.skipIf(process.getuid?.() !== 0)(
  "Modal provider: layer steps on real tools (root: the steps chown to root)",
  () => {
    it("writes the files byte for byte, runs the commands in their folders with the layer's env, and seals the layer", async () => {
      const { modal, provider } = fakeModalProvider({ runnerBundle: null });
      const simple: SandboxLayerSpec = { ...spec, commands: [spec.commands[1]!] };
      await provider.prepareLayer!(simple);
      await provider.create({ name: "plain" });
      const baseLength = modal.createRequests[0]!.image.dockerfileCommands.length;
      const steps = modal.buildRequests[0]!.image.dockerfileCommands.slice(baseLength).map(scriptOf);
      const root = await mkdtemp(join(tmpdir(), "modal-layer-"));
      try {
        const layer = join(root, "layer");
        for (const step of steps) {
          const moved = step
            .replaceAll(` /node_modules`, ` ${root}/node_modules`)
            .replaceAll(SANDBOX_LAYER_DIR, layer);
          await execFileAsync("sh", ["-e", "-c", moved]);
        }
        expect(await readFile(join(layer, "package.json"), "utf8")).toBe(spec.files[0]!.content);
        expect([...(await readFile(join(layer, "mcp/it's here/server.js")))]).toEqual([0, 10, 255]);
        expect(await readFile(join(layer, "mcp/it's here/out.txt"), "utf8")).toBe("hello 'layer'\n$HOME");
        expect(await readlink(join(root, "node_modules"))).toBe(join(layer, "node_modules"));
        expect((await stat(join(layer, "package.json"))).mode & 0o222).toBe(0);
        expect((await lstat(join(layer, "mcp"))).mode & 0o222).toBe(0);
      } finally {
        await execFileAsync("chmod", ["-R", "u+w", root]);
        await rm(root, { recursive: true, force: true });
      }
    });
  },
);
