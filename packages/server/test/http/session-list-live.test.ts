import {
  type SessionListAck,
  type SessionSummary,
  sessionsDeletedEventSchema,
  sessionsUpdatedEventSchema,
} from "@agent-runtime/protocol";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/test-server.js";

interface ListFrame {
  readonly name: string;
  readonly payload: unknown;
}

/** `sessions:subscribe` against a real server with real socket.io clients. */
describe("live session list over the socket", () => {
  let server: TestServer;
  let watcher: Socket;
  let bystander: Socket;
  const frames: ListFrame[] = [];
  const bystanderFrames: string[] = [];

  const connect = () => io(server.url, { transports: ["websocket"], reconnection: false });
  const waitFor = async (predicate: (frame: ListFrame) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = frames.find(predicate);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`Timed out; saw ${frames.map((f) => f.name).join(", ")}`);
  };
  const updatesOf = (sessionId: string) =>
    frames
      .filter((f) => f.name === "sessions:updated")
      .map((f) => sessionsUpdatedEventSchema.parse(f.payload).session)
      .filter((s) => s.sessionId === sessionId);

  beforeAll(async () => {
    server = await startTestServer({
      script: { rules: [{ name: "hi", match: { prompt: "Say hi" }, reply: "Hi there." }] },
    });
    watcher = connect();
    watcher.onAny((name: string, payload: unknown) => frames.push({ name, payload }));
    bystander = connect();
    bystander.onAny((name: string) => bystanderFrames.push(name));
    await Promise.all([watcher, bystander].map((s) => new Promise((resolve) => s.once("connect", resolve))));
  });
  afterAll(async () => {
    watcher?.close();
    bystander?.close();
    await server?.dispose();
  });

  const create = async (): Promise<SessionSummary> => {
    const response = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    return (await response.json()) as SessionSummary;
  };

  it("acknowledges a subscription with the full list", async () => {
    const existing = await create();
    const ack = (await watcher.timeout(10_000).emitWithAck("sessions:subscribe")) as SessionListAck;
    expect(ack.ok).toBe(true);
    expect(ack.ok && ack.sessions.map((s) => s.sessionId)).toEqual([existing.sessionId]);
  });

  it("pushes a creation, then status, activity and the title of a turn", async () => {
    const created = await create();
    await waitFor((f) => f.name === "sessions:updated" && updatesOf(created.sessionId).length > 0);
    expect(updatesOf(created.sessionId)[0]).toEqual(created);

    await fetch(`${server.url}/sessions/${created.sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "Say hi, please" }),
    });
    await waitFor(() =>
      updatesOf(created.sessionId).some((s) => s.runtime.busy && s.title === "Say hi, please"),
    );
    await waitFor(() =>
      updatesOf(created.sessionId).some(
        (s) => !s.runtime.busy && s.runtime.sandboxStatus === "running" && s.lastSeq > 0,
      ),
    );
    const last = updatesOf(created.sessionId).at(-1);
    const listed = (await (await fetch(`${server.url}/sessions`)).json()) as { sessions: SessionSummary[] };
    expect(listed.sessions.find((s) => s.sessionId === created.sessionId)?.runtime).toEqual(last?.runtime);
    // Coalesced: far fewer list updates than session events.
    expect(updatesOf(created.sessionId).length).toBeLessThan(last?.lastSeq ?? 0);
  });

  it("pushes a deletion and nothing about that session afterwards", async () => {
    const created = await create();
    await waitFor(() => updatesOf(created.sessionId).length > 0);
    const response = await fetch(`${server.url}/sessions/${created.sessionId}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    const deleted = await waitFor(
      (f) =>
        f.name === "sessions:deleted" &&
        (f.payload as { sessionId?: string }).sessionId === created.sessionId,
    );
    expect(sessionsDeletedEventSchema.parse(deleted.payload)).toEqual({ sessionId: created.sessionId });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(frames.indexOf(deleted)).toBe(frames.length - 1);
  });

  it("pushes sessions created and deleted through the runtime's own API, not only through REST", async () => {
    const { sessions } = server.server.runtime;
    const session = await sessions.create({ agentProfileRef: "test" });
    await waitFor(() => updatesOf(session.id).length > 0, 5_000);
    expect(updatesOf(session.id)[0]).toEqual(session.summary());
    await sessions.destroy(session.id);
    await waitFor(
      (f) => f.name === "sessions:deleted" && (f.payload as { sessionId?: string }).sessionId === session.id,
      5_000,
    );
  });

  it("sends nothing to sockets that did not subscribe, and stops after unsubscribe", async () => {
    expect(bystanderFrames).toEqual([]);
    await watcher.timeout(10_000).emitWithAck("sessions:unsubscribe");
    const count = frames.length;
    await create();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(frames.length).toBe(count);
    expect(bystanderFrames).toEqual([]);
  });
});
