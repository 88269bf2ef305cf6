import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { unmountAllBelow } from "../support/mounts.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/*
 * A client acting while a session's sandbox starts or is taken from the warm
 * pool (stop, shutdown, drain), with real bubblewrap sandboxes and the real
 * Claude Code against the mock model. A pooled sandbox's rename is slowed
 * down (the window in which a session takes it) so that what a client does
 * meanwhile happens inside the window every time. Nothing here measures time:
 * it runs with the other end-to-end suites.
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
