import { join } from "node:path";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter } from "../../src/index.js";
import { FailingDisk } from "../support/failing-disk.js";
import { restClient } from "../support/rest.js";
import { longStoryRule, notesRule } from "../support/scripts.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Graceful shutdown during a stream (RELIABILITY 18) with the real agent:
 * new requests get 503, connected clients receive the final events before
 * their sockets close, `close()` finishes within the grace period, and
 * every completed block is in SQLite afterwards.
 */
const script: ScriptInput = {
  rules: [notesRule, longStoryRule],
};

async function storedBlocks(dataDir: string, sessionId: string): Promise<Block[]> {
  const reader = createSqlitePersistenceAdapter({ filename: join(dataDir, "agent-runtime.sqlite") });
  await reader.init();
  try {
    return await reader.loadBlocks(sessionId);
  } finally {
    await reader.close();
  }
}

describe("graceful shutdown", () => {
  let server: TestServer | undefined;
  let disk: FailingDisk | undefined;

  afterEach(async () => {
    disk?.setMode("ok");
    await server?.dispose();
    server = undefined;
    disk = undefined;
  });

  async function streamingSession(testServer: TestServer) {
    const rest = restClient(testServer.url);
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(testServer.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Create notes.txt");
    await recorder.waitForTurns(1, 60_000);
    await rest.send(sessionId, "Tell me a long story");
    const deltas = () => recorder.events.filter((e) => e.type === "session:block:delta").length;
    await recorder.waitFor(() => deltas() > 30, 60_000);
    return { rest, sessionId, recorder };
  }

  it("during a stream: 503 for new requests, final events before the sockets close, every completed block stored", async () => {
    server = await startTestServer({ script, runtime: { shutdownGraceMs: 4_000 } });
    const { sessionId, recorder } = await streamingSession(server);
    const disconnected = new Promise<{ reason: string; seen: number }>((resolve) =>
      recorder.socket.once("disconnect", (reason) => resolve({ reason, seen: recorder.events.length })),
    );

    const startedAt = Date.now();
    const closed = server.server.close();
    const during = await fetch(`${server.url}/sessions/${sessionId}`);
    expect(during.status).toBe(503);
    expect(((await during.json()) as { error: { code: string } }).error.code).toBe("SHUTTING_DOWN");
    await closed;
    expect(Date.now() - startedAt).toBeLessThan(4_000);

    // The socket was closed by the server, after the turn's final events arrived.
    const { reason, seen } = await disconnected;
    expect(reason).toBe("io server disconnect");
    const events = recorder.events.slice(0, seen);
    const turnEnd = events.filter((e) => e.type === "session:turn:completed").at(-1);
    expect(turnEnd).toMatchObject({ stopReason: "interrupted" });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: "session:status", runtime: { sandboxStatus: "terminated" } });

    // Every block the client saw completed is stored, as it was completed, in start order.
    const completed = new Map<string, Block>();
    for (const event of events)
      if (event.type === "session:block:complete") completed.set(event.blockId, event.block);
    const startOrder = events.flatMap((e) => (e.type === "session:block:start" ? [e.block.id] : []));
    const stored = await storedBlocks(server.dataDir, sessionId);
    expect(stored).toEqual(startOrder.map((id) => completed.get(id)));
    expect(stored.some((b) => b.type === "assistant_text" && b.content.startsWith("Once upon a time"))).toBe(
      true,
    );
    recorder.close();
  });

  it("storage that hangs cannot hold the shutdown past its grace period", async () => {
    server = await startTestServer({
      script,
      wrapPersistence: (sqlite) => {
        disk = new FailingDisk(sqlite);
        return disk.adapter();
      },
      runtime: { shutdownGraceMs: 1_000, persistenceTimeoutMs: 30_000 },
    });
    const { sessionId, recorder } = await streamingSession(server);
    disk!.setMode("hang");
    const startedAt = Date.now();
    await server.server.close();
    expect(Date.now() - startedAt).toBeLessThan(2_500);
    expect(recorder.events.filter((e) => e.type === "session:turn:completed").at(-1)).toMatchObject({
      stopReason: "interrupted",
    });
    recorder.close();
    disk!.setMode("ok");
    // What was stored before the outage is intact.
    expect((await storedBlocks(server.dataDir, sessionId)).length).toBeGreaterThan(0);
  });
});
