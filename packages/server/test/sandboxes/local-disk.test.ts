import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, statfsSync, statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { mountsBelow, unmountAllBelow } from "../support/mounts.js";

/**
 * RELIABILITY case 8 for workspace and home: a loop-mounted ext4 image per
 * sandbox. Needs root and loop devices; elsewhere the provider declares
 * `disk: false` and these cases are skipped with that reason.
 */
const testRoot = await mkdtemp(join(tmpdir(), "local-disk-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const rootDir = join(testRoot, "sandboxes");
const MIB = 1024 * 1024;
const QUOTA_MIB = 32;
/** Host-side metadata of the image file (extent tree) and what mkfs writes. */
const SLACK_BYTES = 4 * MIB;

function freeBytes(): number {
  const stats = statfsSync(testRoot);
  return stats.bavail * stats.bsize;
}

describe("local sandbox disk quota (loop-mounted image)", () => {
  let provider: SandboxProvider;
  const created: Sandbox[] = [];
  const create = async (name = `disk-${randomUUID().slice(0, 8)}`, on = provider) => {
    const sandbox = await on.create({ name });
    created.push(sandbox);
    return sandbox;
  };
  const sh = (sandbox: Sandbox, script: string) => runInSandbox(sandbox, ["sh", "-c", script]);

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir, limits: { diskMiB: QUOTA_MIB } });
    await provider.check();
  });
  afterEach(async (context) => {
    await Promise.all(created.splice(0).map((sandbox) => provider.remove(sandbox.name)));
    if (context.task.result?.state !== "skip") expect(mountsBelow(testRoot)).toEqual([]);
  });
  afterAll(async () => {
    // Never delete through a mount a failed test left behind.
    unmountAllBelow(testRoot);
    await rm(testRoot, { recursive: true, force: true });
  });

  const needsImages = (context: { skip: (reason: string) => void }) => {
    if (!provider.capabilities.resourceLimits?.disk) {
      context.skip("this host cannot loop-mount disk images (not root, or no loop devices/mkfs.ext4)");
    }
  };

  it("declares the disk limit where it can mount images", () => {
    const canMount = process.getuid?.() === 0 && existsSync("/dev/loop-control");
    if (!canMount) expect(provider.capabilities.resourceLimits?.disk).toBe(false);
    else expect(typeof provider.capabilities.resourceLimits?.disk).toBe("boolean");
  });

  it("disk fill: workspace and home stop at the quota, the host loses at most the quota, deleting frees it", async (context) => {
    needsImages(context);
    const freeBefore = freeBytes();
    const sandbox = await create();
    const image = join(rootDir, sandbox.name, "disk.img");
    expect(statSync(image).size).toBe(QUOTA_MIB * MIB);
    // Sparse: the image costs (almost) nothing until written.
    expect(statSync(image).blocks * 512).toBeLessThan(2 * MIB);

    const fill = await sh(
      sandbox,
      "dd if=/dev/zero of=/workspace/fill bs=1M count=64 2>&1; stat -c %s /workspace/fill",
    );
    expect(fill.stdout).toContain("No space left on device");
    const written = Number(fill.stdout.trim().split("\n").at(-1));
    expect(written).toBeGreaterThan((QUOTA_MIB / 2) * MIB);
    expect(written).toBeLessThanOrEqual(QUOTA_MIB * MIB);
    // Home shares the quota.
    const home = await sh(sandbox, "dd if=/dev/zero of=/home/agent/more bs=1M count=8 2>&1");
    expect(home.stdout).toContain("No space left on device");
    expect(freeBefore - freeBytes()).toBeLessThanOrEqual(QUOTA_MIB * MIB + SLACK_BYTES);
    // Host-side writes hit the same quota.
    await expect(
      sandbox.writeFiles([{ path: "/workspace/big.bin", content: new Uint8Array(8 * MIB) }]),
    ).rejects.toMatchObject({ code: "ENOSPC" });

    const after = await sh(
      sandbox,
      "rm /workspace/fill /home/agent/more && dd if=/dev/zero of=/workspace/again bs=1M count=8 2>&1 && echo usable",
    );
    expect(after).toMatchObject({ code: 0 });
    expect(after.stdout).toContain("usable");
    await sandbox.writeFiles([{ path: "/workspace/small.txt", content: "ok" }]);
    expect(new TextDecoder().decode(await sandbox.readFile("/workspace/small.txt"))).toBe("ok");
  });

  it("terminate unmounts, recreate keeps the files, remove deletes the image and leaves no mount", async (context) => {
    needsImages(context);
    const name = `disk-${randomUUID().slice(0, 8)}`;
    const first = await provider.create({ name });
    await sh(first, "echo kept > /workspace/work.txt; echo home > ~/note");
    expect(mountsBelow(join(rootDir, name))).toEqual([join(rootDir, name, "disk")]);
    await first.terminate();
    expect(mountsBelow(join(rootDir, name))).toEqual([]);

    const second = await provider.create({ name });
    const seen = await sh(second, "cat /workspace/work.txt ~/note; ls -a /workspace");
    expect(seen.stdout).toBe("kept\nhome\n.\n..\nwork.txt\n");
    await provider.remove(name);
    await second.terminated;
    expect(existsSync(join(rootDir, name))).toBe(false);
    expect(mountsBelow(testRoot)).toEqual([]);
  });

  it("a mount left by a crashed server is reused by the next create, and removed", async (context) => {
    needsImages(context);
    const name = `disk-${randomUUID().slice(0, 8)}`;
    const crashed = await provider.create({ name });
    await sh(crashed, "echo before-crash > /workspace/kept.txt");
    // A second provider on the same folder stands for the restarted server:
    // the first one never unmounts.
    const restarted = createLocalSandboxProvider({ rootDir, limits: { diskMiB: QUOTA_MIB } });
    const sandbox = await restarted.create({ name });
    expect(mountsBelow(join(rootDir, name))).toEqual([join(rootDir, name, "disk")]);
    expect((await sh(sandbox, "cat /workspace/kept.txt")).stdout).toBe("before-crash\n");
    await sandbox.terminate();
    expect(mountsBelow(testRoot)).toEqual([]);

    // Mounted by hand, twice stacked, then created: one mount again, same files.
    const image = join(rootDir, name, "disk.img");
    const mountDir = join(rootDir, name, "disk");
    execFileSync("mount", ["-o", "loop", image, mountDir]);
    execFileSync("mount", ["--bind", mountDir, mountDir]);
    expect(mountsBelow(join(rootDir, name))).toEqual([mountDir, mountDir]);
    const again = await restarted.create({ name });
    expect(mountsBelow(join(rootDir, name))).toEqual([mountDir]);
    expect((await sh(again, "cat /workspace/kept.txt")).stdout).toBe("before-crash\n");
    await restarted.remove(name);
    expect(existsSync(join(rootDir, name))).toBe(false);
    expect(mountsBelow(testRoot)).toEqual([]);
    await crashed.terminate();
    expect(mountsBelow(testRoot)).toEqual([]);
  });

  it("a sandbox created before disk images keeps its plain folders", async (context) => {
    needsImages(context);
    const name = `legacy-${randomUUID().slice(0, 8)}`;
    await mkdir(join(rootDir, name, "workspace"), { recursive: true });
    await mkdir(join(rootDir, name, "home"), { recursive: true });
    await writeFile(join(rootDir, name, "workspace", "old.txt"), "old\n");
    const sandbox = await create(name);
    expect((await sh(sandbox, "cat /workspace/old.txt; echo new > /workspace/new.txt")).stdout).toBe("old\n");
    expect(readFileSync(join(rootDir, name, "workspace", "new.txt"), "utf8")).toBe("new\n");
    expect(existsSync(join(rootDir, name, "disk.img"))).toBe(false);
    expect(mountsBelow(join(rootDir, name))).toEqual([]);
  });

  it("create time: making the image and mounting it add little", async (context) => {
    needsImages(context);
    const plain = createLocalSandboxProvider({ rootDir: join(testRoot, "plain"), unsafeNoIsolation: false });
    const time = async (run: () => Promise<unknown>) => {
      const started = performance.now();
      await run();
      return performance.now() - started;
    };
    const firsts: number[] = [];
    const laters: number[] = [];
    const folders: number[] = [];
    for (let round = 0; round < 5; round++) {
      const name = `timing-${randomUUID().slice(0, 8)}`;
      let sandbox: Sandbox | undefined;
      firsts.push(
        await time(async () => {
          sandbox = await provider.create({ name });
        }),
      );
      await sandbox!.terminate();
      laters.push(
        await time(async () => {
          sandbox = await provider.create({ name });
        }),
      );
      await provider.remove(name);
      // Reference: the same create on plain folders (legacy layout, no image).
      await mkdir(join(testRoot, "plain", name, "workspace"), { recursive: true });
      folders.push(
        await time(async () => {
          sandbox = await plain.create({ name });
        }),
      );
      await plain.remove(name);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(
      `create (ms, median of 5): with mkfs ${median(firsts).toFixed(1)}, mount only ${median(laters).toFixed(1)}, plain folders ${median(folders).toFixed(1)}`,
    );
    expect(median(firsts)).toBeLessThan(median(folders) + 250);
    expect(median(laters)).toBeLessThan(median(folders) + 100);
  });
});
