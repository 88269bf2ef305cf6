import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RuntimeError } from "../../src/errors.js";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import { mountsBelow, unmountAllBelow } from "../support/mounts.js";

const testRoot = await mkdtemp(join(tmpdir(), "local-rename-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const rootDir = join(testRoot, "sandboxes");

/**
 * `Sandbox.rename` on the local provider (what the warm pool names a
 * started sandbox for its session with): the processes run on, the files
 * (read-only ones included) and the disk move with the name, a taken name
 * is refused, and the new name is the sandbox's for `create` and `remove`.
 */
describe("renaming a running local sandbox", () => {
  afterAll(async () => {
    unmountAllBelow(testRoot);
    await rm(testRoot, { recursive: true, force: true });
  });

  it("moves its files and disk to the new name while its processes run on", async () => {
    const provider = createLocalSandboxProvider({ rootDir });
    await provider.check();
    const sandbox = await provider.create({ name: "warm-a" });
    await sandbox.writeFiles([
      { path: `${sandbox.workspaceDir}/note.txt`, content: "kept\n" },
      { path: `${sandbox.workspaceDir}/settings.json`, content: "{}\n", readOnly: true },
    ]);
    const running = sandbox.exec(["sleep", "60"]);
    let exited = false;
    void running.exited.then(() => {
      exited = true;
    });
    const other = await provider.create({ name: "taken" });

    await expect(sandbox.rename!("taken")).rejects.toSatisfy(
      (error) => RuntimeError.is(error) && error.code === "CONFLICT",
    );
    expect(sandbox.name).toBe("warm-a");

    await sandbox.rename!("session-a");
    expect(sandbox.name).toBe("session-a");
    expect(existsSync(join(rootDir, "warm-a"))).toBe(false);
    expect(existsSync(join(rootDir, "session-a"))).toBe(true);
    if (provider.capabilities.resourceLimits?.disk)
      expect(mountsBelow(join(rootDir, "session-a"))).toEqual([join(rootDir, "session-a", "disk")]);
    expect(exited).toBe(false);
    expect(new TextDecoder().decode(await sandbox.readFile(`${sandbox.workspaceDir}/note.txt`))).toBe(
      "kept\n",
    );
    const shell = await runInSandbox(sandbox, [
      "sh",
      "-c",
      "cat /workspace/note.txt; echo changed > /workspace/settings.json || echo refused",
    ]);
    expect(shell.stdout).toBe("kept\nrefused\n");

    await sandbox.terminate();
    expect(exited).toBe(true);
    const again = await provider.create({ name: "session-a" });
    expect((await runInSandbox(again, ["cat", "/workspace/note.txt"])).stdout).toBe("kept\n");
    await provider.remove("session-a");
    await provider.remove(other.name);
    expect(existsSync(join(rootDir, "session-a"))).toBe(false);
    expect(mountsBelow(rootDir)).toEqual([]);
  }, 120_000);
});
