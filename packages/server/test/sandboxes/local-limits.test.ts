import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statfsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";

/**
 * RELIABILITY cases 6 (fork bomb), 7 (memory bomb) and 8 (disk fill) on real
 * bubblewrap sandboxes. The limits need cgroups; where the host has none the
 * provider declares so and these cases are skipped with that reason.
 */
const testRoot = await mkdtemp(join(tmpdir(), "local-limits-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const MIB = 1024 * 1024;
const LIMITS = { pids: 64, memoryMiB: 128, diskMiB: 16 };

/** Host pids whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe("local sandbox resource limits", () => {
  let provider: SandboxProvider;
  const created: Sandbox[] = [];
  const create = async () => {
    const sandbox = await provider.create({ name: `limits-${randomUUID().slice(0, 8)}` });
    created.push(sandbox);
    return sandbox;
  };

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir: join(testRoot, "sandboxes"), limits: LIMITS });
    await provider.check();
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => sandbox.terminate()));
  });
  afterAll(async () => {
    await rm(testRoot, { recursive: true, force: true });
  });

  it("fork bomb: stops at the pids limit, /health stays responsive, nothing survives terminate", async (context) => {
    if (!provider.capabilities.resourceLimits?.pids) context.skip("no cgroup pids controller on this host");
    const health = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => health.listen(0, "127.0.0.1", resolve));
    const { port } = health.address() as AddressInfo;
    try {
      const sandbox = await create();
      const marker = `${2000 + Math.floor(Math.random() * 1000)}.${Date.now() % 1_000_000}`;
      // Bounded: at most 5000 forks, each child sleeps; the limit makes most of them fail.
      const bomb = sandbox.exec([
        "bash",
        "-c",
        `for i in $(seq 1 5000); do sleep ${marker} & done 2>/dev/null; echo forked; wait`,
      ]);
      const latencies: number[] = [];
      for (let request = 0; request < 100; request++) {
        const started = performance.now();
        await new Promise<void>((resolve, reject) =>
          get(`http://127.0.0.1:${port}/health`, (res) => res.resume().on("end", resolve)).on(
            "error",
            reject,
          ),
        );
        latencies.push(performance.now() - started);
        await delay(10);
      }
      expect(percentile(latencies, 95)).toBeLessThan(50);
      const inside = processesWith(marker).length;
      expect(inside).toBeGreaterThan(0);
      // bwrap's own monitor process on the host carries the marker too and is outside the cgroup.
      expect(inside).toBeLessThanOrEqual(LIMITS.pids + 1);

      await sandbox.terminate();
      expect((await bomb.exited).limit).toBe("pids");
      const deadline = Date.now() + 3000;
      while (processesWith(marker).length > 0 && Date.now() < deadline) await delay(50);
      expect(processesWith(marker)).toEqual([]);
    } finally {
      health.close();
    }
  });

  it("memory bomb: killed at the limit within 5 s, reported as limit 'memory'", async (context) => {
    if (!provider.capabilities.resourceLimits?.memory)
      context.skip("no cgroup memory controller on this host");
    const sandbox = await create();
    const started = performance.now();
    // Bounded: 2 GiB at most, far over the 128 MiB limit.
    const result = await runInSandbox(sandbox, [
      "node",
      "-e",
      "const held = []; for (let i = 0; i < 64; i++) held.push(Buffer.alloc(32 * 1024 * 1024, 1)); console.log('survived')",
    ]);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(result.stdout).not.toContain("survived");
    expect(result).toMatchObject({ code: 137, limit: "memory" });

    const after = await runInSandbox(sandbox, ["echo", "still usable"]);
    expect(after).toMatchObject({ code: 0, stdout: "still usable\n" });
    expect(after.limit).toBeUndefined();
  });

  it("reports a limit that a process inside hit while the sandbox's own command lives on", async (context) => {
    if (!provider.capabilities.resourceLimits?.memory)
      context.skip("no cgroup memory controller on this host");
    const sandbox = await create();
    const seen: string[] = [];
    const stop = sandbox.onLimit!((limit) => seen.push(limit));
    // The command outlives both bombs, like a runner outlives the tools its agent runs.
    const result = await runInSandbox(sandbox, [
      "sh",
      "-c",
      "node -e 'const held = []; for (;;) held.push(Buffer.alloc(32 * 1024 * 1024, 1))' 2>/dev/null; " +
        "sh -c 'for i in $(seq 1 200); do sleep 3 & done' 2>/dev/null; echo alive",
    ]);
    const deadline = Date.now() + 3000;
    while (seen.length < 2 && Date.now() < deadline) await delay(50);
    stop();
    expect(result.stdout).toContain("alive");
    expect(result.limit).toBeDefined();
    expect(new Set(seen)).toEqual(new Set(["memory", "pids"]));
  });

  it("disk fill: /tmp stops at the quota and host free space drops by at most the quota", async () => {
    const sandbox = await create();
    const freeBefore = statfsSync(testRoot).bavail * statfsSync(testRoot).bsize;
    const result = await runInSandbox(sandbox, [
      "sh",
      "-c",
      "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1; stat -c %s /tmp/fill",
    ]);
    expect(result.stdout).toContain("No space left on device");
    const written = Number(result.stdout.trim().split("\n").at(-1));
    expect(written).toBeLessThanOrEqual(LIMITS.diskMiB * MIB);
    const freeAfter = statfsSync(testRoot).bavail * statfsSync(testRoot).bsize;
    expect(freeBefore - freeAfter).toBeLessThanOrEqual(LIMITS.diskMiB * MIB);
  });

  it("declares which limits it enforces", () => {
    // disk: workspace and home on a loop-mounted image, see local-disk.test.ts.
    expect(typeof provider.capabilities.resourceLimits?.disk).toBe("boolean");
  });
});
