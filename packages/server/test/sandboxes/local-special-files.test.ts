import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { unmountAllBelow } from "../support/mounts.js";

/**
 * FIFOs, sockets and device files in a workspace (issue 14): the local
 * provider lists regular files only, refuses to read the others with
 * `INVALID_PATH` ("is not a regular file"), and never blocks on a FIFO.
 */
const testRoot = await mkdtemp(join(tmpdir(), "local-special-files-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const rootDir = join(testRoot, "sandboxes");

/** Fails the test rather than hanging it when `operation` blocks (a FIFO opened for reading). */
function withinSeconds<T>(operation: Promise<T>, seconds = 5): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still blocked after ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}

describe("local sandbox: special files in the workspace", () => {
  let provider: SandboxProvider;
  const created: Sandbox[] = [];

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir, limits: { diskMiB: 64 } });
    await provider.check();
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => provider.remove(sandbox.name)));
  });
  afterAll(async () => {
    unmountAllBelow(testRoot);
    await rm(testRoot, { recursive: true, force: true });
  });

  it("lists regular files only and refuses to read a FIFO, a socket or a device, without blocking", async () => {
    const sandbox = await provider.create({ name: `special-${randomUUID().slice(0, 8)}` });
    created.push(sandbox);
    const made = await runInSandbox(sandbox, [
      "sh",
      "-c",
      [
        "cd /workspace",
        "echo regular > ok.txt",
        "mkdir -p sub",
        "mkfifo fifo sub/fifo",
        `node -e "require('node:net').createServer().listen('sock', () => process.exit(0))"`,
      ].join(" && "),
    ]);
    expect(made.code, made.stderr).toBe(0);
    // The agent cannot make devices; the host can (its own /dev/null's numbers).
    const onImage = existsSync(join(rootDir, sandbox.name, "disk.img"));
    const hostWorkspace = join(rootDir, sandbox.name, ...(onImage ? ["disk"] : []), "workspace");
    execFileSync("mknod", [join(hostWorkspace, "null"), "c", "1", "3"]);

    const listed = await withinSeconds(sandbox.listWorkspace());
    expect(listed.map((entry) => entry.path)).toEqual(["ok.txt"]);
    for (const name of ["fifo", "sub/fifo", "sock", "null"]) {
      await expect(withinSeconds(sandbox.readFile(`/workspace/${name}`)), name).rejects.toMatchObject({
        code: "INVALID_PATH",
        message: expect.stringContaining("is not a regular file"),
      });
    }
    expect(Buffer.from(await sandbox.readFile("/workspace/ok.txt")).toString()).toBe("regular\n");
    // Deleting them is ordinary: they are names in the workspace.
    for (const name of ["fifo", "sub/fifo", "sock", "null"]) await sandbox.deleteFile(`/workspace/${name}`);
    expect((await runInSandbox(sandbox, ["ls", "-A", "/workspace", "/workspace/sub"])).stdout).toBe(
      "/workspace:\nok.txt\nsub\n\n/workspace/sub:\n",
    );
  });
});
