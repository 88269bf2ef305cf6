import { readFileSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unmountAllBelow } from "../support/mounts.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/*
 * Agent code against idle suspension, with real bubblewrap sandboxes and the
 * real Claude Code against the mock model: it can reach no freezer, cannot run
 * on while frozen, and a suspended sandbox (even one full of dirty pages)
 * terminates promptly. It loads the machine, so it runs with the timing suites.
 */
const script = {
  rules: [{ name: "hello", match: { prompt: "Say hello" }, replies: ["Hello."] }],
};

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("idle suspension against the agent's own code", () => {
  let server: TestServer | undefined;
  const sandboxes: Sandbox[] = [];

  beforeAll(async () => {
    server = await startTestServer({ script });
  });
  afterAll(async () => {
    for (const sandbox of sandboxes) await sandbox.terminate().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    if (server) {
      unmountAllBelow(server.dataDir);
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  async function run(sandbox: Sandbox, script: string): Promise<{ code: number | null; output: string }> {
    const child = sandbox.exec(["sh", "-c", script]);
    child.stdin.end();
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
    const { code } = await child.exited;
    return { code, output: Buffer.concat(chunks).toString("utf8") };
  }

  it("the agent can neither reach its own nor another sandbox's freezer, nor run on while frozen, and a frozen sandbox terminates promptly", async () => {
    const provider = server!.server.runtime.sandboxProvider;
    expect(provider.capabilities.suspend).toBe(true);
    const a = await provider.create({ name: "attack-freezer-a" });
    const b = await provider.create({ name: "attack-freezer-b" });
    sandboxes.push(a, b);

    // A command that keeps running (as the agent does), with a child that leaves its session and process group; both count.
    const counting = a.exec([
      "sh",
      "-c",
      `setsid -f sh -c 'while :; do echo x >> ${a.workspaceDir}/count; sleep 0.01; done' </dev/null >/dev/null 2>&1; while :; do echo y >> ${a.workspaceDir}/count; sleep 0.01; done`,
    ]);
    counting.stdin.end();
    await delay(500);
    // Whatever the agent tries against cgroups from inside.
    const probe = [
      "ls /sys/fs/cgroup 2>&1 | head -3",
      "mkdir -p /tmp/cg && mount -t cgroup -o freezer none /tmp/cg 2>&1; echo mount=$?",
      "mount -t cgroup2 none /tmp/cg 2>&1; echo mount2=$?",
      "cat /proc/self/cgroup",
      "for f in $(find / -xdev -name 'freezer.state' -o -xdev -name 'cgroup.freeze' 2>/dev/null | head -5); do echo found=$f; done",
    ].join("; ");
    const fromB = await run(b, probe);
    expect(fromB.output).toMatch(/mount=[1-9]/);
    expect(fromB.output).toMatch(/mount2=[1-9]/);
    expect(fromB.output).not.toMatch(/found=/);

    await a.suspend!();
    const frozenAt = (await run(b, "true")).code; // b runs on
    expect(frozenAt).toBe(0);
    const count1 = (await a.readFile(`${a.workspaceDir}/count`).catch(() => new Uint8Array())).byteLength;
    await delay(1_000);
    const count2 = (await a.readFile(`${a.workspaceDir}/count`).catch(() => new Uint8Array())).byteLength;
    const states = sandboxPids(a.name).map((pid) => {
      try {
        return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      } catch {
        return undefined;
      }
    });
    expect(count1).toBeGreaterThan(0);
    expect({ count2, running: states.filter((state) => state === "R").length }).toEqual({
      count2: count1,
      running: 0,
    });

    const started = Date.now();
    await a.terminate();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sandboxPids(a.name)).toEqual([]);
  }, 300_000);
});

describe("idle suspension of a sandbox full of dirty pages", () => {
  let server: TestServer | undefined;

  beforeAll(async () => {
    server = await startTestServer({ script });
  });
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    if (server) {
      unmountAllBelow(server.dataDir);
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  it("suspends, and terminates once suspended, within seconds, and the server's file I/O goes on meanwhile", async () => {
    const provider = server!.server.runtime.sandboxProvider;
    const sandbox = await provider.create({ name: "attack-dirty" });
    try {
      // Dirty page cache charged to the sandbox: written, never synced.
      const child = sandbox.exec([
        "sh",
        "-c",
        `dd if=/dev/zero of=${sandbox.workspaceDir}/big bs=1M count=400 status=none; echo done`,
      ]);
      child.stdin.end();
      await child.exited;
      let slowest = 0;
      let probing = true;
      const probe = (async () => {
        while (probing) {
          const started = Date.now();
          await stat("/");
          slowest = Math.max(slowest, Date.now() - started);
          await delay(20);
        }
      })();
      const started = Date.now();
      await sandbox.suspend!();
      const suspendMs = Date.now() - started;
      const terminating = Date.now();
      await sandbox.terminate();
      const terminateMs = Date.now() - terminating;
      probing = false;
      await probe;
      // Measured here: suspend 231 ms (400 MB dirty), terminate 37 ms, slowest stat 3 ms.
      expect({ suspendMs, slowestStatMs: slowest }).toEqual({
        suspendMs: expect.any(Number),
        slowestStatMs: expect.any(Number),
      });
      expect(suspendMs).toBeLessThan(5_000);
      expect(slowest).toBeLessThan(1_000);
      expect(terminateMs).toBeLessThan(10_000);
    } finally {
      await sandbox.terminate().catch(() => undefined);
    }
  }, 300_000);
});
