import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { AgentRuntimeClient } from "@agent-runtime/client";
import type { JoinAck, SessionEvent, SessionEventBatch } from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createFakeSandboxProvider } from "../../src/testing/index.js";
import { until } from "../support/socket-client.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const DELTAS = 300;

/** A recorded Claude Code turn whose text deltas are replaced by `DELTAS` of ours, all written at once. */
function burstTurn(): unknown[] {
  const recorded = readFileSync(
    new URL("../../src/agents/claude-agent-sdk/__fixtures__/text-answer.jsonl", import.meta.url),
    "utf8",
  )
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { event?: { type: string }; session_id?: string });
  const isDelta = (line: (typeof recorded)[number]) => line.event?.type === "content_block_delta";
  const deltas = Array.from({ length: DELTAS }, (_, index) => ({
    type: "stream_event",
    event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `<${index}>` } },
    session_id: recorded[0]?.session_id,
    parent_tool_use_id: null,
    uuid: randomUUID(),
  }));
  return [
    ...recorded.slice(0, recorded.findIndex(isDelta)),
    ...deltas,
    ...recorded.slice(recorded.findLastIndex(isDelta) + 1),
  ];
}

/** A socket.io client that records the session events it gets, and the batches among them. */
async function recorder(url: string, batchEvents: boolean) {
  const socket: Socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    auth: batchEvents ? { batchEvents: true } : {},
  });
  const events: SessionEvent[] = [];
  const batches: SessionEventBatch[] = [];
  socket.onAny((name: string, payload: { type?: string; seq?: number }) => {
    if (name === "session:events") {
      batches.push(payload as unknown as SessionEventBatch);
      events.push(...(payload as unknown as SessionEventBatch).events);
    } else if (name.startsWith("session:") && typeof payload.seq === "number") {
      events.push(payload as SessionEvent);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, events, batches };
}

/** Issue 25: a burst of events goes to batching sockets as `session:events`, to the others one by one (real server, real socket.io clients). */
describe("socket event batches", () => {
  let server: TestServer;

  beforeAll(async () => {
    const turn = burstTurn();
    server = await startTestServer({
      wrapSandbox: () =>
        createFakeSandboxProvider({
          runner: (run) => {
            // One write: the server reads the burst in one go, faster than it can send it event by event.
            run.agent(...turn);
          },
        }),
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("sends a burst to a batching socket in session:events frames and to another one event by event, the same events in order", async () => {
    const created = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    const { sessionId } = (await created.json()) as { sessionId: string };
    const batching = await recorder(server.url, true);
    const single = await recorder(server.url, false);
    for (const { socket } of [batching, single]) {
      const ack = (await socket.timeout(10_000).emitWithAck("session:join", { sessionId })) as JoinAck;
      expect(ack.ok).toBe(true);
    }
    await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "Stream a burst" }),
    });
    const ended = (events: SessionEvent[]) => events.some((e) => e.type === "session:turn:completed");
    await until(() => ended(batching.events) && ended(single.events), 30_000);

    expect(batching.batches.length).toBeGreaterThan(0);
    expect(single.batches).toEqual([]);
    for (const batch of batching.batches) {
      expect(batch.sessionId).toBe(sessionId);
      expect(batch.events.length).toBeGreaterThan(1);
    }
    // Nothing lost, nothing twice, nothing out of order: consecutive seqs, the same events for both.
    const seqs = batching.events.map((event) => event.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => seqs[0]! + index));
    expect(batching.events).toEqual(single.events);
    const text = batching.events
      .filter((event) => event.type === "session:block:delta")
      .map((event) => (event as { delta: string }).delta)
      .join("");
    expect(text).toBe(Array.from({ length: DELTAS }, (_, index) => `<${index}>`).join(""));
    batching.socket.close();
    single.socket.close();
  });

  it("the client library applies batches in order: every delta reaches its store, with no gap to resume from", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => undefined);
    const client = new AgentRuntimeClient({ apiUrl: server.url, debug: true });
    try {
      const { sessionId } = await client.createSession({ agentProfileRef: "test" });
      const opened = client.openSession(sessionId);
      await opened.ready;
      const deltas: string[] = [];
      opened.store.subscribeEvents((event) => {
        if (event.type === "session:block:delta") deltas.push((event as { delta: string }).delta);
      });
      // Joined once the socket's join is acknowledged (logged by the client).
      await until(() => debug.mock.calls.some((call) => call.some((arg) => String(arg).includes("joined"))));
      await client.sendMessage(sessionId, "Stream a burst");
      await until(() => !opened.store.getSnapshot().turn.running && deltas.length > 0, 30_000);
      expect(deltas.join("")).toBe(Array.from({ length: DELTAS }, (_, index) => `<${index}>`).join(""));
      const logged = debug.mock.calls.flat().map(String);
      expect(logged.filter((line) => line.includes("gap"))).toEqual([]);
      opened.release();
    } finally {
      client.close();
      debug.mockRestore();
    }
  });
});
