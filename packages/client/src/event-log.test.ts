import { describe, expect, it } from "vitest";
import { EventLog } from "./event-log.js";

describe("EventLog", () => {
  it("records nothing until its first subscriber, then every event, oldest first", () => {
    const log = new EventLog({ now: () => new Date("2026-01-01T00:00:00.000Z") });
    log.record("session:block:delta", { sessionId: "s", seq: 1 });
    expect(log.getSnapshot()).toEqual([]);
    let changes = 0;
    const unsubscribe = log.subscribe(() => changes++);
    log.record("session:block:delta", { sessionId: "s", seq: 2, delta: "x" });
    log.record("sessions:updated", { session: {} });
    expect(log.getSnapshot()).toEqual([
      {
        id: 1,
        name: "session:block:delta",
        sessionId: "s",
        receivedAt: "2026-01-01T00:00:00.000Z",
        payload: { sessionId: "s", seq: 2, delta: "x" },
      },
      { id: 2, name: "sessions:updated", receivedAt: "2026-01-01T00:00:00.000Z", payload: { session: {} } },
    ]);
    expect(changes).toBe(2);
    // The snapshot is stable between changes (for useSyncExternalStore).
    expect(log.getSnapshot()).toBe(log.getSnapshot());
    unsubscribe();
    // Once started it keeps recording, so a debug panel that closes and opens again sees what it missed.
    log.record("error", { message: "m" });
    expect(log.getSnapshot()).toHaveLength(3);
  });

  it("keeps the latest `limit` events and clears", () => {
    const log = new EventLog({ limit: 3 });
    log.subscribe(() => undefined);
    for (let i = 1; i <= 5; i++) log.record("e", { seq: i });
    expect(log.getSnapshot().map((e) => e.id)).toEqual([3, 4, 5]);
    const before = log.getSnapshot();
    log.clear();
    expect(log.getSnapshot()).toEqual([]);
    expect(before).toHaveLength(3);
    log.record("e", {});
    expect(log.getSnapshot().map((e) => e.id)).toEqual([6]);
  });

  it("records nothing with a limit of 0", () => {
    const log = new EventLog({ limit: 0 });
    log.subscribe(() => undefined);
    log.record("e", {});
    expect(log.getSnapshot()).toEqual([]);
  });
  it("records each event of a session:events batch as if it had come alone", () => {
    const log = new EventLog({ now: () => new Date("2026-01-01T00:00:00.000Z") });
    log.subscribe(() => undefined);
    log.record("session:events", {
      sessionId: "s",
      events: [
        { type: "session:block:delta", sessionId: "s", seq: 1 },
        { type: "session:turn:completed", sessionId: "s", seq: 2 },
      ],
    });
    expect(log.getSnapshot().map((entry) => [entry.name, entry.sessionId])).toEqual([
      ["session:block:delta", "s"],
      ["session:turn:completed", "s"],
    ]);
  });
});
