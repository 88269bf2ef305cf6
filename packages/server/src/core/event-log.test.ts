import { describe, expect, it } from "vitest";
import { EventLog } from "./event-log.js";

const status = { type: "error", code: "X", message: "m" } as const;

describe("EventLog", () => {
  it("stamps contiguous seq numbers from lastSeq", () => {
    const log = new EventLog({ sessionId: "s", lastSeq: 41 });
    expect(log.emit(status).seq).toBe(42);
    expect(log.emit(status).seq).toBe(43);
    expect(log.lastSeq).toBe(43);
  });

  it("replays exactly the events after a cursor", () => {
    const log = new EventLog({ sessionId: "s" });
    for (let i = 0; i < 5; i++) log.emit(status);
    expect(log.eventsAfter(2)?.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(log.eventsAfter(5)).toEqual([]);
    expect(log.eventsAfter(0)?.length).toBe(5);
  });

  it("pages through the events after a cursor", () => {
    const log = new EventLog({ sessionId: "s", windowSize: 4 });
    for (let i = 0; i < 6; i++) log.emit(status);
    expect(log.eventsAfter(2, 2)?.map((e) => e.seq)).toEqual([3, 4]);
    expect(log.eventsAfter(4, 2)?.map((e) => e.seq)).toEqual([5, 6]);
    expect(log.eventsAfter(5, 2)?.map((e) => e.seq)).toEqual([6]);
    expect(log.eventsAfter(6, 2)).toEqual([]);
    expect(log.eventsAfter(1, 2)).toBeNull();
  });

  it("answers null once the window lost the cursor", () => {
    const log = new EventLog({ sessionId: "s", windowSize: 3 });
    for (let i = 0; i < 10; i++) log.emit(status);
    expect(log.eventsAfter(7)?.map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(log.eventsAfter(6)).toBeNull();
  });

  it("isolates a throwing listener", () => {
    const log = new EventLog({ sessionId: "s" });
    const seen: number[] = [];
    log.subscribe(() => {
      throw new Error("boom");
    });
    const off = log.subscribe((e) => seen.push(e.seq));
    log.emit(status);
    off();
    log.emit(status);
    expect(seen).toEqual([1]);
  });
});
