import { join } from "node:path";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter, type PersistenceAdapter } from "../../src/index.js";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { longStoryRule, notesRule } from "../support/scripts.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Recovery with the real Claude Code (RELIABILITY 23, issue 4 item 8): a
 * sandbox killed from outside mid-turn ends the turn with a typed error
 * within 5 s and loses nothing completed; an idle sandbox is torn down after
 * a sync. Either way the next message brings up a new sandbox with the
 * workspace and the transcript restored, and the agent resumes natively.
 */
const script: ScriptInput = {
  rules: [
    notesRule,
    longStoryRule,
    {
      name: "recall",
      match: { prompt: "What did I ask you before?" },
      reply: "You asked me to create notes.txt.",
    },
  ],
};

describe("recovery", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;

  beforeAll(async () => {
    server = await startTestServer({ script, idleTimeoutMs: 1_500 });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  async function recalls(sessionId: string, recorder: SocketRecorder): Promise<string> {
    const from = recorder.events.at(-1)?.seq ?? 0;
    const requestsBefore = server.mock.requests.length;
    await rest.send(sessionId, "What did I ask you before?");
    const done = await recorder.waitFor((e) => e.seq > from && e.type === "session:turn:completed", 60_000);
    expect(done.type === "session:turn:completed" && done.stopReason).toBe("end_turn");
    const statuses = recorder.events.filter(
      (e): e is Extract<SessionEvent, { type: "session:status" }> =>
        e.seq > from && e.type === "session:status",
    );
    expect(statuses.map((e) => e.runtime.sandboxStatus)).toContain("creating");
    const recall = server.mock.requests.slice(requestsBefore).find((r) => r.matched === "recall");
    return JSON.stringify(recall?.messages ?? null);
  }

  it("a sandbox killed from outside mid-turn: typed error within 5 s, nothing completed lost, the next message resumes", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Create notes.txt");
    await recorder.waitForTurns(1, 60_000);

    await rest.send(sessionId, "Tell me a long story");
    const deltas = () => recorder.events.filter((e) => e.type === "session:block:delta").length;
    await recorder.waitFor(() => deltas() > 30, 60_000);
    const pids = sandboxPids(`session-${sessionId}`);
    expect(pids.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone (killing the outer bwrap takes its children along).
      }
    }
    await recorder.waitForTurns(2, 10_000);
    const turnEnd = recorder.events.filter((e) => e.type === "session:turn:completed")[1]!;
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    expect(turnEnd.type === "session:turn:completed" && turnEnd.stopReason).toBe("error");
    const errorEvent = recorder.events.find((e) => e.type === "error" && e.seq < turnEnd.seq);
    expect(errorEvent).toMatchObject({ code: "AGENT_FAILED" });
    const completedBefore = recorder.events.flatMap((e) =>
      e.type === "session:block:complete" && e.seq < turnEnd.seq ? [e.block] : [],
    );
    expect(completedBefore.some((b) => b.type === "error")).toBe(true);
    await recorder.waitFor(
      (e) => e.type === "session:status" && e.runtime.sandboxStatus === "terminated",
      5_000,
    );

    // Every block completed so far is in the session and, once synced, in SQLite.
    const data = await rest.session(sessionId);
    const byId = new Map(data.blocks.map((b) => [b.id, b]));
    for (const block of completedBefore.filter((b) => b.subagentId === undefined)) {
      expect(byId.get(block.id)).toEqual(block);
    }
    await expect
      .poll(() => storedBlockIds(server, sessionId), { timeout: 5_000 })
      .toEqual(expect.arrayContaining(completedBefore.map((b) => b.id)));

    // The dead sandbox's transcript was saved before it was removed.
    await expect
      .poll(async () => (await stored(server, (db) => db.loadTranscript(sessionId))) ?? "", {
        timeout: 5_000,
      })
      .toContain("Tell me a long story");

    const sentToModel = await recalls(sessionId, recorder);
    expect(sentToModel).toContain("Create notes.txt");
    expect(sentToModel).toContain("Tell me a long story");
    const file = await fetch(`${server.url}/sessions/${sessionId}/files/notes.txt`);
    expect(await file.text()).toBe("remember the milk\n");
    recorder.close();
  });

  it("an idle sandbox is synced and torn down; the next message resumes natively", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Create notes.txt");
    await recorder.waitForTurns(1, 60_000);
    const turnEnd = recorder.events.at(-1)?.seq ?? 0;
    await recorder.waitFor(
      (e) => e.seq > turnEnd && e.type === "session:status" && e.runtime.sandboxStatus === "terminated",
      10_000,
    );
    expect(sandboxPids(`session-${sessionId}`)).toEqual([]);
    const data = await rest.session(sessionId);
    expect(data.runtime).toMatchObject({ sandboxStatus: "terminated", busy: false, isLoaded: true });
    expect(data.runtime.sandboxId).toBeUndefined();
    expect(await storedBlockIds(server, sessionId)).toEqual(data.blocks.map((b) => b.id));

    const sentToModel = await recalls(sessionId, recorder);
    expect(sentToModel).toContain("Create notes.txt");
    expect((await rest.session(sessionId)).runtime.sandboxStatus).toBe("running");
    recorder.close();
  });
});

/** Reads the server's SQLite file through a second connection. */
async function stored<T>(server: TestServer, read: (db: PersistenceAdapter) => Promise<T>): Promise<T> {
  const reader = createSqlitePersistenceAdapter({ filename: join(server.dataDir, "agent-runtime.sqlite") });
  await reader.init();
  try {
    return await read(reader);
  } finally {
    await reader.close();
  }
}

const storedBlockIds = (server: TestServer, sessionId: string) =>
  stored(server, async (db) => (await db.loadBlocks(sessionId)).map((b) => b.id));
