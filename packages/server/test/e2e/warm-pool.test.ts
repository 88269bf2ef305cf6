import { existsSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentSession } from "../../src/core/agent-session.js";
import { mountsBelow, unmountAllBelow } from "../support/mounts.js";
import { parsePrometheusText } from "../support/prometheus-text.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const script = {
  rules: [
    {
      name: "secret",
      match: { prompt: "Write the secret" },
      replies: [
        { tool: "Bash", input: { command: "echo secret-of-a > secret.txt", description: "Write" } },
        "Written.",
      ],
    },
    {
      name: "look",
      match: { prompt: "Look around" },
      replies: [
        {
          tool: "Bash",
          input: {
            command: "ls -a /workspace; cat /workspace/secret.txt || echo no-secret",
            description: "Look",
          },
        },
        "Looked.",
      ],
    },
  ],
};

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sends `content` and resolves with the session's events once its turn completed. */
async function turn(server: TestServer, session: AgentSession, content: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  const completed = new Promise<void>((resolve) => {
    const unsubscribe = session.subscribe((event) => {
      events.push(event);
      if (event.type === "session:turn:completed") {
        unsubscribe();
        resolve();
      }
    });
  });
  await server.server.runtime.sessions.sendMessage(session.id, { content });
  await completed;
  return events;
}

/**
 * The warm pool with the real Claude Code in real bubblewrap sandboxes: a
 * fresh session's first message runs on a sandbox started before the session
 * existed, named for the session only then, with the session's own model;
 * the pool refills; an entry whose runner died is replaced; shutdown leaves
 * no pool sandbox and no mount.
 */
describe("warm pool", () => {
  let server: TestServer;
  let sandboxesDir: string;
  const warmNames = () => readdirSync(sandboxesDir).filter((name) => name.startsWith("warm-"));
  const pool = () => server.server.runtime.warmPool!;

  beforeAll(async () => {
    server = await startTestServer({ script, runtime: { warmPool: { size: 1, profiles: ["test"] } } });
    sandboxesDir = join(server.dataDir, "sandboxes");
  });
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    if (server) {
      unmountAllBelow(server.dataDir);
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  it("gives a fresh session's first message the sandbox started before the session, with the session's model, and refills", async () => {
    await waitFor(() => pool().stats().size === 1, 180_000, "the pool to fill");
    const [warmName] = warmNames();
    expect(warmName).toBeDefined();
    const session = await server.server.runtime.sessions.create({
      agentProfileRef: "test",
      tenantId: "tenant-a",
      sessionOptions: { model: "model-a" },
    });
    const events = await turn(server, session, "Write the secret");
    const completed = events.find((event) => event.type === "session:turn:completed");
    expect(completed?.type === "session:turn:completed" && completed.stopReason).toBe("end_turn");

    const { runtime } = session.summary();
    // The sandbox's id keeps the name it was created under: the pool's, before the session existed.
    expect(runtime.sandboxId).toMatch(new RegExp(`^local-${warmName}-`));
    expect(existsSync(join(sandboxesDir, `session-${session.id}`))).toBe(true);
    expect(existsSync(join(sandboxesDir, warmName!))).toBe(false);
    const modelCalls = server.mock.requests.filter((request) => request.matched === "secret");
    expect(modelCalls.length).toBeGreaterThan(0);
    expect(modelCalls.every((request) => request.model === "model-a")).toBe(true);
    expect(pool().stats()).toMatchObject({ hits: 1 });

    await waitFor(
      () => pool().stats().size === 1 && warmNames().some((name) => name !== warmName),
      180_000,
      "the pool to refill",
    );
  }, 420_000);

  it("gives another tenant's session a sandbox of its own from the refilled pool, with its own model", async () => {
    const [warmName] = warmNames();
    const session = await server.server.runtime.sessions.create({
      agentProfileRef: "test",
      tenantId: "tenant-b",
      sessionOptions: { model: "model-b" },
    });
    const events = await turn(server, session, "Look around");
    expect(session.summary().runtime.sandboxId).toMatch(new RegExp(`^local-${warmName}-`));
    const output = events
      .flatMap((event) =>
        event.type === "session:block:complete" && event.block.type === "tool_result" ? [event.block] : [],
      )
      .map((block) => JSON.stringify(block.content))
      .join("\n");
    expect(output).toContain("no-secret");
    expect(output).not.toContain("secret-of-a");
    const data = session.snapshot();
    expect(data.files.map((file) => file.path)).not.toContain("secret.txt");
    const modelCalls = server.mock.requests.filter((request) => request.matched === "look");
    expect(modelCalls.length).toBeGreaterThan(0);
    expect(modelCalls.every((request) => request.model === "model-b")).toBe(true);
    expect(pool().stats()).toMatchObject({ hits: 2 });
    const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
    expect(metrics.value("agent_runtime_warm_pool_takes_total", { result: "hit" })).toBe(2);
    expect(metrics.types.get("agent_runtime_warm_pool_agents")).toBe("gauge");
  }, 420_000);

  it("replaces a pooled agent whose runner died", async () => {
    await waitFor(() => pool().stats().size === 1, 180_000, "the pool to refill");
    const [warmName] = warmNames();
    for (const pid of sandboxPids(warmName!)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await waitFor(
      () => pool().stats().size === 1 && warmNames().length === 1 && warmNames()[0] !== warmName,
      180_000,
      "the dead entry to be replaced",
    );
    expect(existsSync(join(sandboxesDir, warmName!))).toBe(false);
  }, 420_000);

  it("removes the pool's sandboxes and unmounts their disks at shutdown", async () => {
    await waitFor(() => pool().stats().size === 1, 180_000, "the pool to refill");
    await server.stop();
    expect(warmNames()).toEqual([]);
    expect(mountsBelow(sandboxesDir)).toEqual([]);
  }, 120_000);
});

describe("warm pool with too little available memory", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      script,
      runtime: { warmPool: { size: 1, profiles: ["test"], availableMemory: () => 0 } },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("starts no agent ahead, and the first message is a miss that starts one as without a pool", async () => {
    const pool = server.server.runtime.warmPool!;
    const session = await server.server.runtime.sessions.create({ agentProfileRef: "test" });
    const events = await turn(server, session, "Look around");
    const completed = events.find((event) => event.type === "session:turn:completed");
    expect(completed?.type === "session:turn:completed" && completed.stopReason).toBe("end_turn");
    expect(session.summary().runtime.sandboxId).toMatch(/^local-session-/);
    expect(pool.stats()).toEqual({ size: 0, hits: 0, misses: 1 });
    const sandboxes = readdirSync(join(server.dataDir, "sandboxes"));
    expect(sandboxes.filter((name) => name.startsWith("warm-"))).toEqual([]);
  }, 420_000);
});

describe("warm pool entries that age out", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      script,
      runtime: { warmPool: { size: 1, profiles: ["test"], maxAgeMs: 3_000 } },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("removes an entry older than maxAgeMs and starts another", async () => {
    const pool = server.server.runtime.warmPool!;
    const sandboxesDir = join(server.dataDir, "sandboxes");
    const warmNames = () => readdirSync(sandboxesDir).filter((name) => name.startsWith("warm-"));
    await waitFor(() => pool.stats().size === 1, 180_000, "the pool to fill");
    const [first] = warmNames();
    await waitFor(() => !existsSync(join(sandboxesDir, first!)), 60_000, "the old entry to be removed");
    await waitFor(
      () => pool.stats().size === 1 && warmNames().some((name) => name !== first),
      180_000,
      "a new entry",
    );
  }, 420_000);
});
