import { readFileSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { unmountAllBelow } from "../support/mounts.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/*
 * Hostile clients and agent code against the warm pool and idle
 * suspension, with real bubblewrap sandboxes and the real Claude Code
 * against the mock model. A pooled sandbox's rename is slowed down (the
 * window in which a session takes it) so that what a client does meanwhile
 * happens inside the window every time.
 */
const script = {
  rules: [{ name: "hello", match: { prompt: "Say hello" }, replies: ["Hello."] }],
};

const TAKE_DELAY_MS = 2_000;

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The provider, with each pooled sandbox's rename (its take by a session) slowed down by `TAKE_DELAY_MS`. */
function slowTakes(local: SandboxProvider, names: string[]): SandboxProvider {
  return new Proxy(local, {
    get(target, property, receiver) {
      if (property !== "create") return Reflect.get(target, property, receiver);
      return async (...args: Parameters<SandboxProvider["create"]>) => {
        const sandbox = await target.create(...args);
        if (sandbox.name.startsWith("warm-") && sandbox.rename) {
          names.push(sandbox.name);
          const rename = sandbox.rename.bind(sandbox);
          (sandbox as { rename: Sandbox["rename"] }).rename = async (name: string) => {
            await delay(TAKE_DELAY_MS);
            return rename(name);
          };
        }
        return sandbox;
      };
    },
  });
}

describe("warm pool: a client acting while a session takes a pooled sandbox", () => {
  let server: TestServer | undefined;
  const warmNames: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      script,
      wrapSandbox: (local) => slowTakes(local, warmNames),
      runtime: { warmPool: { size: 1, profiles: ["test"], refillDelayMs: 15_000 } },
    });
  });
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    if (server) {
      unmountAllBelow(server.dataDir);
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  it("a session stopped while its first message takes a pooled sandbox leaves no agent running", async () => {
    const runtime = server!.server.runtime;
    await waitFor(() => runtime.warmPool!.stats().size === 1, 240_000, "the pool to fill");
    const warmName = warmNames.at(-1)!;
    expect(sandboxPids(warmName).length).toBeGreaterThan(0);
    const session = await runtime.sessions.create({ agentProfileRef: "test", tenantId: "tenant-a" });
    const sent = runtime.sessions.sendMessage(session.id, { content: "Say hello" }).catch(() => undefined);
    await delay(TAKE_DELAY_MS / 4);
    expect(runtime.warmPool!.stats()).toMatchObject({ size: 0 });
    // The client stops (unloads) the session before the take completes.
    await runtime.sessions.stop(session.id);
    await sent;
    await delay(TAKE_DELAY_MS + 5_000);
    const modelCalls = server!.mock.requests.filter((request) => request.matched === "hello");
    expect({
      agentProcesses: sandboxPids(warmName).length,
      modelCallsAfterStop: modelCalls.length,
    }).toEqual({ agentProcesses: 0, modelCallsAfterStop: 0 });
  }, 420_000);

  it("a session stopped while its first message takes a pooled sandbox answers its next message", async () => {
    const runtime = server!.server.runtime;
    const session = await runtime.sessions.create({ agentProfileRef: "test", tenantId: "tenant-b" });
    await waitFor(() => runtime.warmPool!.stats().size === 1, 240_000, "the pool to fill");
    const sent = runtime.sessions.sendMessage(session.id, { content: "Say hello" }).catch(() => undefined);
    await delay(TAKE_DELAY_MS / 4);
    await runtime.sessions.stop(session.id);
    await sent;
    await delay(TAKE_DELAY_MS + 1_000);
    // The next message (the pool is empty now: refills wait 15 s) starts the session's own sandbox.
    const again = await runtime.sessions.get(session.id);
    const done = new Promise<string>((resolve) => {
      const unsubscribe = again.subscribe((event) => {
        if (event.type === "session:turn:completed") {
          unsubscribe();
          resolve(event.stopReason);
        } else if (event.type === "session:status" && event.runtime.sandboxStatus === "error") {
          unsubscribe();
          resolve(`error: ${event.runtime.error?.message}`);
        }
      });
    });
    await runtime.sessions.sendMessage(session.id, { content: "Say hello" });
    const outcome = await Promise.race([done, delay(120_000).then(() => "no answer")]);
    expect(outcome).toBe("end_turn");
  }, 420_000);

  // Last of this block: it stops the server.
  it("a shutdown while a session takes a pooled sandbox leaves no sandbox running", async () => {
    const runtime = server!.server.runtime;
    const session = await runtime.sessions.create({ agentProfileRef: "test", tenantId: "tenant-c" });
    await waitFor(() => runtime.warmPool!.stats().size === 1, 240_000, "the pool to fill");
    const warmName = warmNames.at(-1)!;
    const sent = runtime.sessions.sendMessage(session.id, { content: "Say hello" }).catch(() => undefined);
    await delay(TAKE_DELAY_MS / 4);
    await server!.stop();
    await sent;
    await delay(3_000);
    expect({
      pooled: sandboxPids(warmName).length,
      session: sandboxPids(`session-${session.id}`).length,
    }).toEqual({ pooled: 0, session: 0 });
  }, 420_000);
});

describe("a session stopped while its sandbox is being created (no pool)", () => {
  let server: TestServer | undefined;
  const created: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      script,
      wrapSandbox: (local) =>
        new Proxy(local, {
          get(target, property, receiver) {
            if (property !== "create") return Reflect.get(target, property, receiver);
            return async (...args: Parameters<SandboxProvider["create"]>) => {
              const sandbox = await target.create(...args);
              created.push(sandbox.name);
              await delay(TAKE_DELAY_MS);
              return sandbox;
            };
          },
        }),
    });
  });
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    if (server) {
      unmountAllBelow(server.dataDir);
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  it("leaves no sandbox running", async () => {
    const runtime = server!.server.runtime;
    const session = await runtime.sessions.create({ agentProfileRef: "test" });
    const sent = runtime.sessions.sendMessage(session.id, { content: "Say hello" }).catch(() => undefined);
    await waitFor(() => created.length === 1, 120_000, "the sandbox to be created");
    await runtime.sessions.stop(session.id);
    await sent;
    await delay(TAKE_DELAY_MS + 5_000);
    expect({ processes: sandboxPids(created[0]!).length }).toEqual({ processes: 0 });
  }, 300_000);
});

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

describe("warm pool: drained while a take is under way", () => {
  let server: TestServer | undefined;
  const warmNames: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      script,
      wrapSandbox: (local) => slowTakes(local, warmNames),
      runtime: { warmPool: { size: 1, profiles: ["test"], refillDelayMs: 15_000 } },
    });
  });
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    if (server) {
      unmountAllBelow(server.dataDir);
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  it("hands nothing out once drained, removes the entry, and drain waits for it", async () => {
    const runtime = server!.server.runtime;
    const pool = runtime.warmPool!;
    await waitFor(() => pool.stats().size === 1, 240_000, "the pool to fill");
    const warmName = warmNames.at(-1)!;
    const taking = pool.take({
      profile: await runtime.profiles.get("test"),
      architecture: "claude-agent-sdk",
      sessionOptions: {},
      sandboxName: "session-drained-meanwhile",
    });
    await delay(TAKE_DELAY_MS / 4);
    await pool.drain();
    const taken = await taking;
    const left = sandboxPids(warmName).length;
    if (taken) {
      taken.runner.kill();
      await taken.sandbox.terminate();
    }
    expect({ handedOut: taken !== undefined, processesAfterDrain: left }).toEqual({
      handedOut: false,
      processesAfterDrain: 0,
    });
  }, 420_000);
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
