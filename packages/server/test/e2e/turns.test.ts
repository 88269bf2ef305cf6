import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block, SessionEvent, SessionEventOf } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { sandboxCommands } from "../support/sandbox-processes.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Turns with the real Claude Code: messages sent while a turn runs are
 * queued, shown in the runtime state and answered in order; an interrupt
 * during a long-running tool ends the turn quickly and the session goes on.
 */
const script: ScriptInput = {
  rules: [
    ...["one", "two", "three"].map((word) => ({
      name: `answer-${word}`,
      match: { prompt: `Say ${word}` },
      reply: { steps: [`You said ${word}.`], chunkDelayMs: 20, chunkSize: 2 },
    })),
    {
      name: "sleep",
      match: { prompt: "Sleep for a while" },
      replies: [{ tool: "Bash", input: { command: "sleep 30", description: "Sleep" } }, "Slept."],
    },
  ],
};

const ofType = <T extends SessionEvent["type"]>(events: SessionEvent[], type: T) =>
  events.filter((e): e is SessionEventOf<T> => e.type === type);

describe("turns", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    server = await startTestServer({ script });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers three messages sent at once in order, showing the waiting ones as queued", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    const sent: Array<{ turnId: string; queued: boolean }> = [];
    for (const word of ["one", "two", "three"]) {
      const response = await rest.send(sessionId, `Say ${word}`);
      expect(response.status).toBe(202);
      sent.push((await response.json()) as { turnId: string; queued: boolean });
    }
    expect(sent.map((s) => s.queued)).toEqual([false, true, true]);

    // While the first turn runs, the runtime state shows it and the two waiting messages.
    const waiting = await rest.session(sessionId);
    expect(waiting.runtime).toMatchObject({
      isLoaded: true,
      busy: true,
      currentTurnId: sent[0]?.turnId,
      queuedMessages: [
        { turnId: sent[1]?.turnId, content: "Say two" },
        { turnId: sent[2]?.turnId, content: "Say three" },
      ],
    });
    expect(["creating", "running"]).toContain(waiting.runtime.sandboxStatus);

    await recorder.waitForTurns(3, 90_000);
    recorder.close();
    const events = recorder.events;
    const turnIds = sent.map((s) => s.turnId);
    expect(ofType(events, "session:turn:started").map((e) => e.turnId)).toEqual(turnIds);
    const completed = ofType(events, "session:turn:completed");
    expect(completed.map((e) => [e.turnId, e.stopReason])).toEqual(turnIds.map((id) => [id, "end_turn"]));
    // Never interleaved: each turn completes before the next starts.
    const frames = events.filter(
      (e) => e.type === "session:turn:started" || e.type === "session:turn:completed",
    );
    expect(frames.map((e) => e.type)).toEqual([
      "session:turn:started",
      "session:turn:completed",
      "session:turn:started",
      "session:turn:completed",
      "session:turn:started",
      "session:turn:completed",
    ]);

    // `session:status` carried the queue as it shrank, and the current turn.
    const statuses = ofType(events, "session:status").map((e) => e.runtime);
    const queues = statuses.map((r) => r.queuedMessages.map((m) => m.content).join("|"));
    expect(queues).toContain("Say two|Say three");
    expect(queues.indexOf("Say three")).toBeGreaterThan(queues.indexOf("Say two|Say three"));
    for (const turnId of turnIds) {
      expect(statuses.some((r) => r.currentTurnId === turnId && r.busy && r.isLoaded)).toBe(true);
    }
    expect(statuses.at(-1)).toMatchObject({ busy: false, queuedMessages: [], sandboxStatus: "running" });

    // Each question is followed by its own answer.
    const data = await rest.session(sessionId);
    const conversation = data.blocks
      .filter(
        (b): b is Extract<Block, { type: "user_message" | "assistant_text" }> =>
          b.type === "user_message" || b.type === "assistant_text",
      )
      .map((b) => b.content);
    expect(conversation).toEqual([
      "Say one",
      "You said one.",
      "Say two",
      "You said two.",
      "Say three",
      "You said three.",
    ]);
  });

  it("interrupts a turn while a tool runs (sleep 30) within 5 s, and takes the next message", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Sleep for a while");
    await recorder.waitFor(
      (e) => e.type === "session:block:start" && e.block.type === "tool_use" && e.block.toolName === "Bash",
      60_000,
    );
    await expect
      .poll(() => sandboxCommands(`session-${sessionId}`).some((c) => c.startsWith("sleep 30")), {
        timeout: 10_000,
      })
      .toBe(true);
    const startedAt = Date.now();
    expect(await (await rest.interrupt(sessionId)).json()).toEqual({ interrupted: true });
    const done = await recorder.waitFor((e) => e.type === "session:turn:completed", 10_000);
    const tookMs = Date.now() - startedAt;
    expect(done.type === "session:turn:completed" && done.stopReason).toBe("interrupted");
    expect(tookMs).toBeLessThan(5_000);
    // The tool's process is gone too, not just the turn.
    await expect
      .poll(() => sandboxCommands(`session-${sessionId}`).filter((c) => c.startsWith("sleep 30")), {
        timeout: 3_000,
      })
      .toEqual([]);

    const from = recorder.events.length;
    const requestsBefore = server.mock.requests.length;
    await rest.send(sessionId, "What did I ask you before?");
    const next = await recorder.waitFor((e) => e.seq > from && e.type === "session:turn:completed", 60_000);
    expect(next.type === "session:turn:completed" && next.stopReason).toBe("end_turn");
    recorder.close();
    // The same agent carries on: its next model request holds the interrupted turn and the new message.
    const request = server.mock.requests.slice(requestsBefore).find((r) => r.source === "script");
    const sentToModel = JSON.stringify(request?.messages);
    expect(sentToModel).toContain("Sleep for a while");
    expect(sentToModel).toContain("What did I ask you before?");
    expect((await rest.session(sessionId)).blocks.at(-1)?.type).toBe("assistant_text");
  });
});
