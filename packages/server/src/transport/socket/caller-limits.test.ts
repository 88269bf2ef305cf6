import { afterEach, describe, expect, it, vi } from "vitest";
import { CallerLimits } from "./caller-limits.js";

const RATE = { eventsPerSecond: 2, burst: 3, maxRefusedInARow: 2 };

describe("CallerLimits", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds at most maxSocketsPerCaller sockets per caller, and frees a place on release", () => {
    const limits = new CallerLimits({ maxSocketsPerCaller: 2, rateLimit: RATE });
    const first = limits.connect("key:a");
    expect(limits.connect("key:a")).toBeDefined();
    expect(limits.connect("key:a")).toBeUndefined();
    expect(limits.connect("key:b")).toBeDefined();
    first?.release();
    first?.release();
    expect(limits.connect("key:a")).toBeDefined();
    expect(limits.connect("key:a")).toBeUndefined();
  });

  it("shares one bucket between a caller's sockets, refills it over time, and asks to disconnect a socket refused too often in a row", () => {
    let now = 0;
    const limits = new CallerLimits({ maxSocketsPerCaller: 10, rateLimit: RATE }, () => now);
    const one = limits.connect("key:a");
    const two = limits.connect("key:a");
    expect([one?.admit(), two?.admit(), one?.admit()]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(two?.admit()).toEqual({ ok: false, retryAfter: 1, refusedInARow: 1, disconnect: false });
    expect(two?.admit()).toEqual({ ok: false, retryAfter: 1, refusedInARow: 2, disconnect: true });
    // Another socket of the caller has its own count of refusals, not its own tokens.
    expect(one?.admit()).toMatchObject({ ok: false, refusedInARow: 1, disconnect: false });
    now += 500;
    expect(one?.admit()).toEqual({ ok: true });
    expect(one?.admit()).toMatchObject({ ok: false, refusedInARow: 1 });
    // Other callers are not affected.
    expect(limits.connect("key:b")?.admit()).toEqual({ ok: true });
  });

  it("keeps a caller's bucket across reconnects until it would have refilled, then forgets the caller", () => {
    vi.useFakeTimers();
    let now = 0;
    const limits = new CallerLimits({ maxSocketsPerCaller: 10, rateLimit: RATE }, () => now);
    const socket = limits.connect("ip:1.2.3.4");
    for (let i = 0; i < RATE.burst; i++) socket?.admit();
    socket?.release();
    const again = limits.connect("ip:1.2.3.4");
    expect(again?.admit()).toMatchObject({ ok: false });
    again?.release();
    expect(limits.size).toBe(1);
    vi.advanceTimersByTime((RATE.burst / RATE.eventsPerSecond) * 1000);
    expect(limits.size).toBe(0);
    now += 10_000;
    expect(limits.connect("ip:1.2.3.4")?.admit()).toEqual({ ok: true });
  });

  it("admits every event when the rate limit is off", () => {
    const limits = new CallerLimits({ maxSocketsPerCaller: 1, rateLimit: false });
    const socket = limits.connect("key:a");
    for (let i = 0; i < 1000; i++) expect(socket?.admit()).toEqual({ ok: true });
  });
});
