import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Admission control with the real Claude Code: with one start allowed at a
 * time, three first messages sent together start one after the other; the
 * waiting sessions show `queued` with their place, and every turn completes.
 */
describe("agent starts are admitted a bounded number at a time", () => {
  let server: TestServer;
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      script: { rules: [{ name: "hello", match: { prompt: "Hello" }, reply: "Hi." }] },
      runtime: { maxConcurrentStarts: 1 },
    });
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
  });

  it("queues the starts beyond the limit, in order, with their positions", async () => {
    const rest = restClient(server.url);
    const ids = await Promise.all([0, 1, 2].map(() => rest.createSession({ agentProfileRef: "test" })));
    const sessions = await Promise.all(
      ids.map(async (id) => {
        const recorder = new SocketRecorder(server.url);
        recorders.push(recorder);
        await recorder.join(id, 0);
        return { id, recorder };
      }),
    );
    await Promise.all(sessions.map(({ id }) => rest.send(id, "Hello")));
    await Promise.all(sessions.map(({ recorder }) => recorder.waitForTurns(1, 120_000)));

    const statuses = (events: SessionEvent[]) =>
      events.flatMap((e) => (e.type === "session:status" ? [e.runtime] : []));
    const positions = sessions.map(({ recorder }) =>
      statuses(recorder.events)
        .filter((runtime) => runtime.sandboxStatus === "queued")
        .map((runtime) => runtime.queuePosition),
    );
    // One started at once; the other two waited, one at place 2 then 1, one at place 1.
    expect(positions.map((p) => p.length === 0).filter(Boolean)).toHaveLength(1);
    expect(positions.flat().sort()).toEqual([1, 1, 2]);
    for (const { recorder } of sessions) {
      const last = statuses(recorder.events).at(-1);
      expect(last?.queuePosition).toBeUndefined();
      const ended = recorder.events.find((e) => e.type === "session:turn:completed");
      expect(ended?.type === "session:turn:completed" && ended.stopReason).toBe("end_turn");
    }
  });
});
