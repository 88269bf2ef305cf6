import { join } from "node:path";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlitePersistenceAdapter } from "../../src/index.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * A loaded session changed without a message, with the real Claude Code
 * against the mock model: its options (`PATCH`, applied from the next turn:
 * the model sees the new model name), unloading it (`stop`: the sandbox
 * goes, the workspace and the event stream go on), and a sync on demand.
 */
const script: ScriptInput = {
  rules: [
    {
      name: "write",
      match: { prompt: "Write the note" },
      replies: [
        { tool: "Bash", input: { command: "echo kept > note.txt", description: "Write" } },
        "Written.",
      ],
    },
    {
      name: "read",
      match: { prompt: "Read the note" },
      replies: [{ tool: "Bash", input: { command: "cat note.txt", description: "Read" } }, "Read."],
    },
    { name: "hello", match: { prompt: "Hello" }, reply: "Hi." },
  ],
};

describe("session lifecycle: options, stop, sync", () => {
  let server: TestServer;
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    server = await startTestServer({ script });
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
  });

  async function session(): Promise<{ id: string; recorder: SocketRecorder }> {
    const id = await restClient(server.url).createSession({ agentProfileRef: "test" });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(id, 0);
    return { id, recorder };
  }

  async function turn(id: string, recorder: SocketRecorder, content: string, turns: number): Promise<void> {
    expect((await restClient(server.url).send(id, content)).status).toBe(202);
    await recorder.waitForTurns(turns);
  }

  const patch = (id: string, body: unknown) =>
    fetch(`${server.url}/sessions/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("PATCH changes the model from the next turn and tells clients", async () => {
    const { id, recorder } = await session();
    await turn(id, recorder, "Hello one", 1);
    const answer = await patch(id, { sessionOptions: { model: "claude-patched-model" } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ sessionOptions: { model: "claude-patched-model" } });
    await recorder.waitFor(
      (e) => e.type === "session:options:update" && e.sessionOptions.model === "claude-patched-model",
    );
    await turn(id, recorder, "Hello two", 2);
    const models = server.mock.requests
      .filter((r) => r.matched === "hello" && r.path.startsWith("/v1/messages"))
      .map((r) => r.model);
    expect(models.at(-1)).toBe("claude-patched-model");
    expect(models[0]).not.toBe("claude-patched-model");
    const data = await restClient(server.url).session(id);
    expect(data.sessionOptions).toEqual({ model: "claude-patched-model" });
  });

  it("PATCH refuses unknown fields and bad values with a 400 naming them, and a missing session with 404", async () => {
    const { id } = await session();
    const unknown = await patch(id, { sessionOptions: { modle: "x" } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain("modle");
    expect((await patch(id, { sessionOptions: { permissions: { mode: "sometimes" } } })).status).toBe(400);
    expect((await patch("no-such-session", { sessionOptions: { model: "m" } })).status).toBe(404);
  });

  it("stop unloads the session with its workspace kept; the next message brings it back, its events continuing", async () => {
    const { id, recorder } = await session();
    await turn(id, recorder, "Write the note", 1);
    const stopped = await fetch(`${server.url}/sessions/${id}/stop`, { method: "POST" });
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toEqual({ stopped: true });
    await recorder.waitFor((e) => e.type === "session:status" && !e.runtime.isLoaded);
    const listed = await (await fetch(`${server.url}/sessions`)).json();
    expect(listed.sessions.find((s: { sessionId: string }) => s.sessionId === id)?.runtime.isLoaded).toBe(
      false,
    );

    await turn(id, recorder, "Read the note", 2);
    const read = recorder.events.flatMap((e) =>
      e.type === "session:block:complete" && e.block.type === "tool_result" ? [String(e.block.content)] : [],
    );
    expect(read.at(-1)).toContain("kept");
    const seqs = recorder.events.map((e: SessionEvent) => e.seq);
    expect(seqs).toEqual(seqs.map((_, index) => index + 1));
  });

  it("sync answers once what the session holds is stored", async () => {
    const { id, recorder } = await session();
    await turn(id, recorder, "Write the note", 1);
    const synced = await fetch(`${server.url}/sessions/${id}/sync`, { method: "POST" });
    expect(synced.status).toBe(200);
    const { syncedAt } = (await synced.json()) as { syncedAt: string };
    expect(Date.parse(syncedAt)).toBeGreaterThan(0);
    // Another connection to the same database sees what the session holds.
    const reader = createSqlitePersistenceAdapter({ filename: join(server.dataDir, "agent-runtime.sqlite") });
    await reader.init?.();
    try {
      const content = await reader.loadWorkspaceFile(id, "note.txt");
      expect(Buffer.from(content ?? new Uint8Array()).toString()).toBe("kept\n");
      const blocks = await reader.loadBlocks(id);
      expect(blocks.map((b) => b.type)).toContain("tool_result");
      expect((await reader.loadSession(id))?.lastSeq).toBe(recorder.events.at(-1)?.seq);
    } finally {
      await reader.close?.();
    }
    expect((await fetch(`${server.url}/sessions/missing/sync`, { method: "POST" })).status).toBe(404);
  });
});
