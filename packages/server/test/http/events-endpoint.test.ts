import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** `GET /sessions/:id/events`: JSON replay after a cursor, 409 past the window, and SSE (replay or snapshot, then live). */
describe("events endpoint", () => {
  let server: TestServer;
  let sessionId: string;
  let lastSeq: number;

  beforeAll(async () => {
    server = await startTestServer({
      script: {
        rules: [{ match: { prompt: "Hello" }, reply: { steps: ["Hi there, ".repeat(20)], chunkSize: 5 } }],
      },
      runtime: { eventWindowSize: 30 },
    });
    const rest = restClient(server.url);
    sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Hello");
    await recorder.waitForTurns(1);
    lastSeq = recorder.events.at(-1)?.seq ?? 0;
    recorder.close();
    expect(lastSeq).toBeGreaterThan(30);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("replays exactly the events after a recent cursor as JSON", async () => {
    const response = await fetch(`${server.url}/sessions/${sessionId}/events?after=${lastSeq - 5}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { events: SessionEvent[]; lastSeq: number };
    expect(body.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5].map((n) => lastSeq - 5 + n));
    expect(body.lastSeq).toBe(lastSeq);
  });

  it("answers 409 CONFLICT with the current lastSeq when the cursor is older than the window", async () => {
    const response = await fetch(`${server.url}/sessions/${sessionId}/events?after=0`);
    expect(response.status).toBe(409);
    const body = (await response.json()) as { error: { code: string; details: { lastSeq: number } } };
    expect(body.error.code).toBe("CONFLICT");
    expect(body.error.details.lastSeq).toBe(lastSeq);
  });

  async function firstSseEvents(
    cursor: number,
    count: number,
  ): Promise<Array<{ event: string; data: unknown }>> {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/sessions/${sessionId}/events?after=${cursor}`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const parsed: Array<{ event: string; data: unknown }> = [];
    while (parsed.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const frames = text.split("\n\n");
      text = frames.pop() ?? "";
      for (const frame of frames) {
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) parsed.push({ event, data: JSON.parse(data) });
      }
    }
    controller.abort();
    return parsed;
  }

  it("streams the replay as SSE from a recent cursor", async () => {
    const events = await firstSseEvents(lastSeq - 3, 3);
    expect(events.map((e) => (e.data as SessionEvent).seq)).toEqual([lastSeq - 2, lastSeq - 1, lastSeq]);
  });

  it("starts an SSE stream with a snapshot when the cursor is too old", async () => {
    const [first] = await firstSseEvents(0, 1);
    expect(first?.event).toBe("session:snapshot");
    expect(first?.data).toMatchObject({ sessionId, seq: lastSeq, session: { lastSeq } });
  });
});
