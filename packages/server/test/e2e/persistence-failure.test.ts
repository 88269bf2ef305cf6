import { join } from "node:path";
import type { ScriptInput } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter } from "../../src/index.js";
import { FailingDisk } from "../support/failing-disk.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Storage that throws or hangs (RELIABILITY 24, issue 5 item 5), with the
 * real agent and the real SQLite adapter behind a failing-disk double: the
 * session reports the outage once, retries with capped exponential backoff,
 * the server keeps serving, nothing rejects unhandled, and every completed
 * block is stored once storage is back.
 */
const script: ScriptInput = {
  rules: [
    {
      name: "notes",
      match: { prompt: { regex: "^Create (\\w+)\\.txt" } },
      replies: [
        { tool: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "saved\n" } },
        "Created it.",
      ],
    },
    { name: "hello", match: { prompt: "Say hello" }, reply: "Hello there." },
  ],
};

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 800;

describe("persistence failures", () => {
  let server: TestServer;
  let disk: FailingDisk;
  let rest: ReturnType<typeof restClient>;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    server = await startTestServer({
      script,
      wrapPersistence: (sqlite) => {
        disk = new FailingDisk(sqlite);
        return disk.adapter();
      },
      runtime: {
        // Only turn ends and retries sync, so the retry rhythm is visible.
        syncIntervalMs: 60_000,
        syncRetryMinMs: RETRY_MIN_MS,
        syncRetryMaxMs: RETRY_MAX_MS,
        persistenceTimeoutMs: 300,
      },
    });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    disk?.setMode("ok");
    await server?.dispose();
    process.off("unhandledRejection", onUnhandled);
  });

  async function storedBlockIds(sessionId: string): Promise<string[]> {
    const reader = createSqlitePersistenceAdapter({ filename: join(server.dataDir, "agent-runtime.sqlite") });
    await reader.init();
    try {
      return (await reader.loadBlocks(sessionId)).map((b) => b.id);
    } finally {
      await reader.close();
    }
  }

  async function serving(): Promise<void> {
    const startedAt = Date.now();
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(Date.now() - startedAt).toBeLessThan(500);
  }

  it("a throwing adapter: reported once, retried with backoff, everything stored once it is back", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Say hello");
    await recorder.waitForTurns(1, 60_000);

    disk.setMode("throw");
    const failedFrom = disk.calls.length;
    await rest.send(sessionId, "Create first.txt");
    await recorder.waitForTurns(2, 60_000);
    await rest.send(sessionId, "Say hello");
    await recorder.waitForTurns(3, 60_000);
    await serving();
    expect((await rest.session(sessionId)).runtime.busy).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const errors = recorder.events.filter((e) => e.type === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "PERSISTENCE_FAILED" });
    // One failed call per sync pass; apart from the passes at turn ends, the gaps double up to the cap.
    const attempts = disk.calls
      .slice(failedFrom)
      .filter((c) => c.failed)
      .map((c) => c.at);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    // Never longer than the cap (plus timer slack on a busy machine), and at the cap by now.
    expect(Math.max(...gaps)).toBeLessThan(RETRY_MAX_MS + 500);
    expect(gaps.at(-1)!).toBeGreaterThanOrEqual(RETRY_MAX_MS - 50);

    disk.setMode("ok");
    const data = await rest.session(sessionId);
    await expect
      .poll(() => storedBlockIds(sessionId), { timeout: 5_000 })
      .toEqual(data.blocks.map((b) => b.id));
    await expect
      .poll(async () => (await fetch(`${server.url}/sessions/${sessionId}/files`)).status)
      .toBe(200);
    // Retries stop once a sync went through.
    const settled = disk.calls.length;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MAX_MS + 200));
    expect(disk.calls.length).toBe(settled);
    expect(recorder.events.filter((e) => e.type === "error")).toHaveLength(1);
    recorder.close();
    expect(unhandled).toEqual([]);
  });

  it("a hanging adapter: calls time out, the server keeps serving, the outage is reported once, nothing is lost", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Say hello");
    await recorder.waitForTurns(1, 60_000);

    disk.setMode("hang");
    await rest.send(sessionId, "Create second.txt");
    await recorder.waitForTurns(2, 60_000);
    await recorder.waitFor((e) => e.type === "error", 5_000);
    await serving();
    // A request that needs storage fails fast with a code instead of hanging.
    const startedAt = Date.now();
    const list = await fetch(`${server.url}/sessions`);
    expect(list.status).toBe(503);
    expect(((await list.json()) as { error: { code: string } }).error.code).toBe("PERSISTENCE_FAILED");
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    disk.setMode("ok");
    const data = await rest.session(sessionId);
    await expect
      .poll(() => storedBlockIds(sessionId), { timeout: 5_000 })
      .toEqual(data.blocks.map((b) => b.id));
    expect(recorder.events.filter((e) => e.type === "error")).toHaveLength(1);
    expect(recorder.events.find((e) => e.type === "error")).toMatchObject({ code: "PERSISTENCE_FAILED" });
    recorder.close();
    expect(unhandled).toEqual([]);
  });
});
