import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block, SessionData, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * The walking skeleton end to end: the real server, SQLite, a real
 * bubblewrap sandbox, the real Claude Code (through the runner) against the
 * scripted mock model, and a real socket.io client.
 */
const script: ScriptInput = {
  defaults: { chunkSize: 6 },
  rules: [
    {
      name: "hello-file",
      match: { prompt: "Create hello.txt" },
      replies: [
        [
          "I will create the file and then show it to you.",
          { tool: "Write", input: { file_path: "{{cwd}}/hello.txt", content: "Hello from the sandbox\n" } },
        ],
        { tool: "Bash", input: { command: "cat hello.txt", description: "Show hello.txt" } },
        "Done. The file hello.txt says: Hello from the sandbox.",
      ],
    },
    {
      name: "recall",
      match: { prompt: "What did I ask you before?" },
      reply: "You asked me to create hello.txt.",
    },
  ],
};

async function json<T>(response: Response): Promise<T> {
  const body = (await response.json()) as T;
  return body;
}

describe("a Claude session end to end", () => {
  let server: TestServer;
  let sessionId: string;
  let recorder: SocketRecorder;

  beforeAll(async () => {
    server = await startTestServer({ script });
  });

  afterAll(async () => {
    recorder?.close();
    await server?.dispose();
  });

  it("creates a session without a sandbox", async () => {
    const response = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test", architecture: "claude-agent-sdk" }),
    });
    expect(response.status).toBe(201);
    const created = await json<SessionData>(response);
    sessionId = created.sessionId;
    expect(created.runtime.sandboxStatus).toBe("pending");
    expect(created.runtime.sandboxId).toBeUndefined();
  });

  it("streams a text answer, a Write and a Bash tool call, and the new file", async () => {
    recorder = new SocketRecorder(server.url);
    const ack = await recorder.join(sessionId, 0);
    expect(ack.ok).toBe(true);

    const send = await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "Create hello.txt and show it to me" }),
    });
    expect(send.status).toBe(202);
    expect((await json<{ turnId: string; queued: boolean }>(send)).queued).toBe(false);
    await recorder.waitForTurns(1);
    await recorder.waitFor((e) => e.type === "session:file:created" && e.file.path === "hello.txt", 10_000);

    const events = recorder.events;
    // Contiguous seq from 1: nothing lost, nothing duplicated.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    const statuses = events.flatMap((e) => (e.type === "session:status" ? [e.runtime.sandboxStatus] : []));
    expect(statuses.indexOf("creating")).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf("running")).toBeGreaterThan(statuses.indexOf("creating"));

    const completed = events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
    const kinds = completed.filter((b) => b.subagentId === undefined).map((b) => b.type);
    expect(kinds[0]).toBe("user_message");
    const writeUse = completed.find((b) => b.type === "tool_use" && b.toolName === "Write");
    const bashUse = completed.find((b) => b.type === "tool_use" && b.toolName === "Bash");
    expect(writeUse).toBeDefined();
    expect(bashUse).toBeDefined();
    const results = completed.filter((b): b is Extract<Block, { type: "tool_result" }> => b.type === "tool_result");
    const bashResult = results.find((r) => bashUse?.type === "tool_use" && r.toolUseId === bashUse.toolUseId);
    expect(bashResult?.content).toContain("Hello from the sandbox");
    expect(bashResult?.isError).toBeFalsy();

    // Order: the Write call completes before its result, which precedes the Bash call.
    const indexOf = (id: string | undefined) => completed.findIndex((b) => b.id === id);
    const writeResult = results.find((r) => writeUse?.type === "tool_use" && r.toolUseId === writeUse.toolUseId);
    expect(indexOf(writeResult?.id)).toBeGreaterThan(-1);
    expect(indexOf(bashUse?.id)).toBeGreaterThan(indexOf(writeResult?.id));

    // Text streamed in several deltas and completed with their concatenation.
    const texts = completed.filter((b) => b.type === "assistant_text");
    const final = texts.at(-1);
    expect(final?.type === "assistant_text" && final.content).toContain("Hello from the sandbox");
    const deltas = events.filter(
      (e): e is Extract<SessionEvent, { type: "session:block:delta" }> =>
        e.type === "session:block:delta" && e.blockId === final?.id,
    );
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.map((d) => d.delta).join("")).toBe(final?.type === "assistant_text" ? final.content : "");
    const startSeq = events.find((e) => e.type === "session:block:start" && e.block.id === final?.id)?.seq ?? 0;
    const completeSeq = events.find((e) => e.type === "session:block:complete" && e.blockId === final?.id)?.seq ?? 0;
    expect(startSeq).toBeLessThan(deltas[0]?.seq ?? 0);
    expect(completeSeq).toBeGreaterThan(deltas.at(-1)?.seq ?? Number.POSITIVE_INFINITY);

    // REST shows the same blocks, and the file.
    const data = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    // Same blocks, in the order they started (a tool call completes after its result).
    const started = events.flatMap((e) => (e.type === "session:block:start" ? [e.block.id] : []));
    expect(data.blocks.map((b) => b.id)).toEqual(started);
    const finalById = new Map(completed.map((b) => [b.id, b]));
    expect(data.blocks).toEqual(data.blocks.map((b) => finalById.get(b.id)));
    expect(data.runtime.sandboxStatus).toBe("running");
    expect(data.files.map((f) => f.path)).toContain("hello.txt");
    const file = await fetch(`${server.url}/sessions/${sessionId}/files/hello.txt`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("Hello from the sandbox\n");
  });

  it("reuses the sandbox and the agent process for the next message, which sees the conversation", async () => {
    const before = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    const requestsBefore = server.mock.requests.length;
    await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "What did I ask you before?" }),
    });
    await recorder.waitForTurns(2);
    const after = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    expect(after.runtime.sandboxId).toBe(before.runtime.sandboxId);
    expect(after.runtime.agentPid).toBe(before.runtime.agentPid);
    const last = after.blocks.at(-1);
    expect(last?.type === "assistant_text" && last.content).toBe("You asked me to create hello.txt.");
    const recall = server.mock.requests.slice(requestsBefore).find((r) => r.matched === "recall");
    expect(JSON.stringify(recall?.messages)).toContain("Create hello.txt and show it to me");
    // No new `creating` status in the second turn.
    const secondTurnStart = recorder.events.filter((e) => e.type === "session:turn:started")[1]?.seq ?? 0;
    const laterStatuses = recorder.events.filter(
      (e) => e.type === "session:status" && e.seq > secondTurnStart && e.runtime.sandboxStatus === "creating",
    );
    expect(laterStatuses).toEqual([]);
  });

  it("loads the session and its blocks back after a restart on the same SQLite file", async () => {
    const before = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    recorder.close();
    await server.stop();
    const restarted = await startTestServer({ dataDir: server.dataDir, script });
    try {
      const after = await json<SessionData>(await fetch(`${restarted.url}/sessions/${sessionId}`));
      expect(after.blocks).toEqual(before.blocks);
      expect(after.lastSeq).toBeGreaterThanOrEqual(before.lastSeq);
      expect(after.runtime.sandboxStatus).toBe("terminated");
      expect(after.files.map((f) => f.path)).toContain("hello.txt");
      const file = await fetch(`${restarted.url}/sessions/${sessionId}/files/hello.txt`);
      expect(await file.text()).toBe("Hello from the sandbox\n");
      const list = await json<{ sessions: Array<{ sessionId: string }> }>(await fetch(`${restarted.url}/sessions`));
      expect(list.sessions.map((s) => s.sessionId)).toContain(sessionId);

      // The next message recreates the sandbox and the agent resumes its own transcript.
      const requestsBefore = restarted.mock.requests.length;
      const again = new SocketRecorder(restarted.url);
      await again.join(sessionId);
      await fetch(`${restarted.url}/sessions/${sessionId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content: "What did I ask you before?" }),
      });
      await again.waitForTurns(1);
      again.close();
      const recall = restarted.mock.requests.slice(requestsBefore).find((r) => r.matched === "recall");
      expect(JSON.stringify(recall?.messages)).toContain("Create hello.txt and show it to me");
      const resumed = await json<SessionData>(await fetch(`${restarted.url}/sessions/${sessionId}`));
      expect(resumed.runtime.sandboxStatus).toBe("running");
      expect(resumed.blocks.slice(0, before.blocks.length)).toEqual(before.blocks);
    } finally {
      await restarted.stop();
    }
  });
});
