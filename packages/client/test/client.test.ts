import { gunzipSync } from "node:zlib";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { SessionData } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentRuntimeClient,
  AgentRuntimeError,
  type SessionSnapshot,
  type SessionStore,
  type WireEvent,
} from "../src/index.js";
import { type RealServer, startRealServer, waitForState } from "./support/real-server.js";

const LONG_ANSWER = `Streaming ${"a long answer in many small chunks ".repeat(12)}end.`;

const script: ScriptInput = {
  rules: [
    {
      name: "stream",
      match: { prompt: "Stream slowly" },
      replies: [
        {
          steps: [
            "Writing notes.",
            { tool: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "streamed notes\n" } },
          ],
        },
        { steps: [LONG_ANSWER], chunkSize: 6, chunkDelayMs: 25 },
      ],
    },
    { name: "second", match: { prompt: "And then?" }, reply: "Then this." },
  ],
};

const turnDone = (count: number) => (s: SessionSnapshot) =>
  !s.turn.running &&
  s.runtime?.busy === false &&
  s.blocks.filter((b) => b.type === "user_message").length === count &&
  s.inflightBlockIds.length === 0;

/** The server's session data at exactly the store's `lastSeq` (retries while the session still moves). */
async function serverDataAt(client: AgentRuntimeClient, store: SessionStore): Promise<SessionData> {
  for (;;) {
    const data = await client.rest.getSession(store.sessionId);
    await waitForState(store, (s) => s.lastSeq >= data.lastSeq);
    if (store.getSnapshot().lastSeq === data.lastSeq) return data;
  }
}

describe("AgentRuntimeClient against a real server", () => {
  let server: RealServer;
  let a: AgentRuntimeClient;
  let b: AgentRuntimeClient;

  beforeAll(async () => {
    server = await startRealServer(script);
    a = new AgentRuntimeClient({ apiUrl: server.url });
    b = new AgentRuntimeClient({
      apiUrl: server.url,
      socket: { socketOptions: { transports: ["websocket"] } },
    });
  });

  afterAll(async () => {
    a?.close();
    b?.close();
    await server?.close();
  });

  it("maps error responses to AgentRuntimeError", async () => {
    const error = await a.rest.getSession("no-such-session").catch((e: unknown) => e);
    expect(AgentRuntimeError.is(error)).toBe(true);
    expect(error).toMatchObject({ code: "SESSION_NOT_FOUND", status: 404 });
    expect((error as AgentRuntimeError).requestId).toEqual(expect.any(String));
    await expect(a.updateSessionOptions("x", { model: "m" })).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
      status: 404,
    });
    const unreachable = new AgentRuntimeClient({ apiUrl: "http://127.0.0.1:1" });
    await expect(unreachable.rest.health()).rejects.toMatchObject({ code: "NETWORK_ERROR", status: 0 });
    unreachable.close();
  });

  it("lists the server's architectures with their capabilities, fetched once per client", async () => {
    const paths: string[] = [];
    const counting = new AgentRuntimeClient({
      apiUrl: server.url,
      fetch: (input, init) => {
        paths.push(new URL(String(input)).pathname);
        return fetch(input, init);
      },
    });
    const [first, second] = await Promise.all([counting.architectures(), counting.architectures()]);
    expect(first).toBe(second);
    expect(await counting.architectures()).toBe(first);
    expect(paths).toEqual(["/agent-architectures"]);
    expect(first.map((a) => a.id)).toEqual(["claude-agent-sdk", "opencode", "codex", "gemini", "acp"]);
    expect(first[0]?.capabilities).toEqual({
      thinking: true,
      subagents: true,
      permissions: true,
      nativeResume: true,
    });
    expect(await counting.rest.listArchitectures()).toEqual(first);
    counting.close();

    let failures = 1;
    const flaky = new AgentRuntimeClient({
      apiUrl: server.url,
      fetch: (input, init) => (failures-- > 0 ? Promise.reject(new Error("offline")) : fetch(input, init)),
    });
    await expect(flaky.architectures()).rejects.toMatchObject({ code: "NETWORK_ERROR" });
    expect(await flaky.architectures()).toEqual(first);
    flaky.close();
  });

  it("streams a turn, survives a dropped socket mid-stream and ends with exactly the server's state", async () => {
    const created = await a.createSession({ agentProfileRef: "test", architecture: "claude-agent-sdk" });
    expect(a.sessionList.getSnapshot().sessions.map((s) => s.sessionId)).toContain(created.sessionId);
    const sessionA = a.openSession(created.sessionId);
    const sessionB = b.openSession(created.sessionId);
    await Promise.all([sessionA.ready, sessionB.ready]);
    await waitForState(a.connection, (c) => c.status === "connected");

    const seen: number[] = [];
    sessionA.store.subscribeEvents((event: WireEvent) => seen.push(event.seq));

    const sent = await a.sendMessage(created.sessionId, "Stream slowly please");
    expect(sent.queued).toBe(false);

    // Drop the transport while the long answer streams; the client reconnects and resumes.
    await waitForState(sessionA.store, (s) =>
      s.blocks.some(
        (block) =>
          block.type === "assistant_text" &&
          block.content.length > 20 &&
          block.content.startsWith("Streaming"),
      ),
    );
    a.connection.socket.io.engine.close();
    await waitForState(a.connection, (c) => c.status === "reconnecting");
    const reconnected = await waitForState(a.connection, (c) => c.status === "connected");
    expect(reconnected.error).toBeUndefined();

    const finalA = await waitForState(sessionA.store, turnDone(1));
    const finalB = await waitForState(sessionB.store, turnDone(1));
    await waitForState(sessionA.store, (s) => s.files.some((f) => f.path === "notes.txt"));

    const server = await serverDataAt(a, sessionA.store);
    await waitForState(sessionB.store, (s) => s.lastSeq === server.lastSeq);
    const stateA = sessionA.store.getSnapshot();
    const stateB = sessionB.store.getSnapshot();
    expect(stateA.lastSeq).toBe(server.lastSeq);
    expect(stateA.blocks).toEqual(server.blocks);
    expect(stateB.blocks).toEqual(server.blocks);
    expect(stateA.files).toEqual(server.files);
    expect(stateB.files).toEqual(server.files);
    expect(stateA.runtime).toEqual(server.runtime);
    expect(stateA.metadata?.usage).toEqual(server.usage);
    expect(finalA.turn.lastStopReason).toBe("end_turn");
    expect(finalB.turn.lastStopReason).toBe("end_turn");
    const answer = server.blocks.find(
      (block) => block.type === "assistant_text" && block.content === LONG_ANSWER,
    );
    expect(answer).toBeDefined();
    // Every event exactly once, in order, across the reconnect.
    expect(seen).toEqual(seen.map((_, i) => (seen[0] ?? 0) + i));
    expect(seen.at(-1)).toBe(server.lastSeq);

    expect(await a.rest.readFile(created.sessionId, "notes.txt")).toBe("streamed notes\n");
    // A tar is 512-byte header blocks (name first) followed by the content.
    const tar = gunzipSync(await a.rest.downloadWorkspace(created.sessionId));
    const header = tar.indexOf("notes.txt\0");
    expect(header % 512).toBe(0);
    expect(tar.subarray(header + 512, header + 512 + 15).toString()).toBe("streamed notes\n");
    sessionA.release();
    sessionB.release();
  });

  it("tracks a message queued behind a running turn and resumes after disconnect/connect", async () => {
    const { sessionId } = await a.createSession({
      agentProfileRef: "test",
      architecture: "claude-agent-sdk",
    });
    const session = a.openSession(sessionId);
    await session.ready;
    await a.sendMessage(sessionId, "Stream slowly again");
    const queued = await a.sendMessage(sessionId, "And then?");
    expect(queued.queued).toBe(true);
    expect(session.store.getSnapshot().queuedMessages.map((m) => m.turnId)).toEqual(
      session.store.getSnapshot().turn.turnId === queued.turnId ? [] : [queued.turnId],
    );

    await waitForState(session.store, (s) => s.inflightBlockIds.length > 0);
    a.connection.socket.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.connection.socket.connect();

    const done = await waitForState(session.store, turnDone(2));
    expect(done.queuedMessages).toEqual([]);
    const server = await serverDataAt(a, session.store);
    expect(session.store.getSnapshot().blocks).toEqual(server.blocks);
    expect(server.blocks.at(-1)).toMatchObject({ type: "assistant_text", content: "Then this." });
    session.release();
  });

  it("keeps a followed session list live across clients and reconnects", async () => {
    const watcher = new AgentRuntimeClient({ apiUrl: server.url });
    const release = watcher.sessionList.follow();
    try {
      const list = watcher.sessionList;
      await waitForState(list, (s) => s.loaded && !s.isLoading);
      const listed = (id: string) => list.getSnapshot().sessions.find((s) => s.sessionId === id);

      // Created, worked on and titled by another client: every change shows without a refresh.
      const { sessionId } = await b.createSession({
        agentProfileRef: "test",
        architecture: "claude-agent-sdk",
      });
      await waitForState(list, () => listed(sessionId)?.runtime.sandboxStatus === "pending");
      await b.sendMessage(sessionId, "And then?");
      await waitForState(list, () => listed(sessionId)?.title === "And then?");
      const idle = await waitForState(
        list,
        () =>
          listed(sessionId)?.runtime.sandboxStatus === "running" && listed(sessionId)?.runtime.busy === false,
      );
      const fromServer = (await b.rest.listSessions()).sessions.find((s) => s.sessionId === sessionId);
      expect(idle.sessions.find((s) => s.sessionId === sessionId)?.lastSeq).toBe(fromServer?.lastSeq);

      // Changes made while the watcher is disconnected arrive with the fresh list on reconnect.
      watcher.connection.socket.disconnect();
      const created = await b.createSession({ agentProfileRef: "test", architecture: "claude-agent-sdk" });
      await b.destroySession(sessionId);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(listed(created.sessionId)).toBeUndefined();
      expect(listed(sessionId)).toBeDefined();
      watcher.connection.socket.connect();
      await waitForState(
        list,
        () => listed(created.sessionId) !== undefined && listed(sessionId) === undefined,
      );
      expect(watcher.connection.getSnapshot().status).toBe("connected");

      await b.destroySession(created.sessionId);
      await waitForState(list, () => listed(created.sessionId) === undefined);
    } finally {
      release();
      watcher.close();
    }
  });
});
