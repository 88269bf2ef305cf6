import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxImageSpec } from "../../src/sandboxes/modal/modal-image.js";
import { modalSandboxOptionsSchema } from "../../src/sandboxes/modal/modal-sandbox-options.js";

/*
 * The tools the agents call that the base image may lack. OpenCode's glob,
 * grep and skill tools run ripgrep (`rg`); `node:20-slim` has none. The
 * image's layer is run here by a real `sh`, with `apt-get` and `rm` replaced
 * by stubs that only log their arguments, in a PATH holding nothing else.
 */
const run = promisify(execFile);

describe("Modal image: tools the agents need", () => {
  let bin: string;
  const log = () => join(bin, "calls.log");
  const stub = async (name: string) => {
    await writeFile(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${log()}"\n`);
    await chmod(join(bin, name), 0o755);
  };
  const ripgrepLayer = (): string => {
    const spec = sandboxImageSpec(modalSandboxOptionsSchema.parse({}), null);
    const layer = spec.dockerfileCommands.find((command) => /\bripgrep\b/.test(command));
    expect(layer, spec.dockerfileCommands.join("\n")).toBeDefined();
    return layer!.replace(/^RUN /, "");
  };

  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), "modal-image-tools-"));
    await stub("apt-get");
    await stub("rm");
  });
  afterAll(async () => {
    if (bin) await rm(bin, { recursive: true, force: true });
  });

  it("installs ripgrep from the distribution's packages when the base image has no rg", async () => {
    await run("/bin/sh", ["-c", ripgrepLayer()], { env: { PATH: bin } });
    const calls = (await readFile(log(), "utf8")).trim().split("\n");
    expect(calls[0]).toBe("apt-get update");
    expect(calls[1]).toMatch(/^apt-get install -y .*\bripgrep$/);
    expect(calls[2]).toMatch(/^rm -rf \/var\/lib\/apt\/lists\//);
  });

  it("leaves a base image that has rg as it is", async () => {
    await rm(log(), { force: true });
    await stub("rg");
    await run("/bin/sh", ["-c", ripgrepLayer()], { env: { PATH: bin } });
    await expect(readFile(log(), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("comes before the runner's packages and the caller's commands, so they can rely on it", () => {
    const spec = sandboxImageSpec(
      modalSandboxOptionsSchema.parse({ image: { dockerfileCommands: ["RUN rg --version"] } }),
      { "opencode-ai": "1.0.0" },
    );
    const commands = spec.dockerfileCommands;
    const ripgrep = commands.findIndex((command) => /\bripgrep\b/.test(command));
    expect(ripgrep).toBeGreaterThan(-1);
    expect(ripgrep).toBeLessThan(commands.findIndex((command) => command.includes("npm install")));
    expect(commands.at(-1)).toBe("RUN rg --version");
  });
});
