import type { SessionData, SessionEvent } from "@agent-runtime/protocol";
import type { Socket } from "socket.io";
import { describe, expect, it } from "vitest";
import type { AgentSession } from "../../core/agent-session.js";
import { EventLog } from "../../core/event-log.js";
import { FakeConnection } from "./__fixtures__/fake-connection.js";
import { OutgoingQueue } from "./outgoing-queue.js";
import { type ReplayOutcome, replayInPages } from "./paged-replay.js";

/** About 1 KB on the wire. */
const event = { type: "error", code: "X", message: "m".repeat(1000) } as const;
const PAGE = 10_000;

/** A session over a real event log, a socket over a fake connection, and what the socket was sent. */
function setup(options: { events: number; windowSize?: number }) {
  const log = new EventLog({ sessionId: "s", windowSize: options.windowSize ?? 10_000 });
  for (let i = 0; i < options.events; i++) log.emit(event);
  const session = {
    id: "s",
    log,
    resume(afterSeq: number, limit?: number) {
      const events = log.eventsAfter(afterSeq, limit);
      return events === null
        ? // As large as a page, so the replay waits for it to be written.
          {
            kind: "snapshot",
            snapshot: { lastSeq: log.lastSeq, pad: "p".repeat(PAGE) } as unknown as SessionData,
          }
        : { kind: "events", events };
    },
  } as unknown as AgentSession;
  const conn = new FakeConnection();
  const queue = new OutgoingQueue(conn as unknown as Socket["conn"]);
  const sent: Array<{ name: string; seq: number | undefined }> = [];
  const joined: Array<{ room: string; afterSent: number }> = [];
  const socket = {
    emit(name: string, payload: SessionEvent | { seq: number }) {
      sent.push({ name, seq: payload.seq });
      conn.send(JSON.stringify([name, payload]));
      return true;
    },
    join(room: string) {
      joined.push({ room, afterSent: sent.length });
    },
  } as unknown as Socket;
  /** Lets the connection write everything it was handed, and the replay go on. */
  const writeAll = async () => {
    while (queue.pendingBytes > 0) conn.written();
    await new Promise((resolve) => setImmediate(resolve));
  };
  const replay = (afterSeq: number, signal = new AbortController().signal) => {
    const caughtUp: ReplayOutcome[] = [];
    const done = replayInPages(
      { socket, queue, session, afterSeq, room: "room", pageBytes: PAGE, signal },
      (o) => caughtUp.push(o),
    );
    return { done, caughtUp };
  };
  return { log, conn, queue, sent, joined, writeAll, replay };
}

describe("replayInPages", () => {
  it("sends a page, the next one only once it is written, and joins the room right after the last", async () => {
    const { log, queue, sent, joined, writeAll, replay } = setup({ events: 100 });
    const { done, caughtUp } = replay(0);
    await writeAll();
    expect(sent.length).toBeGreaterThanOrEqual(9);
    expect(sent.length).toBeLessThanOrEqual(11);
    expect(joined).toEqual([]);
    // Nothing more while the page is not written.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const firstPage = sent.length;
    expect(queue.pendingBytes).toBeGreaterThan(0);
    await writeAll();
    expect(sent.length).toBeGreaterThan(firstPage);
    // Events that happen meanwhile are replayed too.
    log.emit(event);
    for (let i = 0; i < 20 && joined.length === 0; i++) await writeAll();
    expect(await done).toEqual({ lastSeq: 101, replayed: 101, snapshot: false });
    expect(caughtUp).toEqual([{ lastSeq: 101, replayed: 101, snapshot: false }]);
    expect(sent.map((s) => s.seq)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    expect(joined).toEqual([{ room: "room", afterSent: 101 }]);
  });

  it("sends a snapshot when the log no longer holds the cursor's next event, then goes on after it", async () => {
    const { log, sent, joined, writeAll, replay } = setup({ events: 30, windowSize: 20 });
    const { done } = replay(3);
    await writeAll();
    log.emit(event);
    for (let i = 0; i < 10 && joined.length === 0; i++) await writeAll();
    expect(await done).toEqual({ lastSeq: 31, replayed: 1, snapshot: true });
    expect(sent).toEqual([
      { name: "session:snapshot", seq: 30 },
      { name: "error", seq: 31 },
    ]);
  });

  it("stops when aborted; replays to one socket take turns and hold one page between them", async () => {
    const { queue, sent, joined, writeAll, replay } = setup({ events: 100 });
    const abort = new AbortController();
    const first = replay(0, abort.signal);
    const second = replay(50);
    await writeAll();
    // One page in all, not one each.
    expect(queue.pendingBytes).toBeLessThan(PAGE + 2_000);
    abort.abort("replaced");
    for (let i = 0; i < 30 && joined.length === 0; i++) await writeAll();
    expect(await first.done).toBeUndefined();
    expect(first.caughtUp).toEqual([]);
    expect(await second.done).toEqual({ lastSeq: 100, replayed: 50, snapshot: false });
    expect(joined).toHaveLength(1);
    expect(sent.filter((s) => (s.seq ?? 0) > 50).map((s) => s.seq)).toEqual(
      expect.arrayContaining(Array.from({ length: 50 }, (_, i) => i + 51)),
    );
  });
});
