import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runnerLimitsSchema } from "./runner-limits.js";
import { DROP_REPORT_INTERVAL_MS, RunnerRateLimiter } from "./runner-rate-limiter.js";

describe("RunnerRateLimiter", () => {
  let now: number;
  let dropped: Array<{ logLines: number; invalidLines: number }>;
  let violations: string[];
  const limiter = (limits: Parameters<typeof runnerLimitsSchema.parse>[0] = {}) =>
    new RunnerRateLimiter(
      runnerLimitsSchema.parse(limits),
      { onDropped: (counts) => dropped.push(counts), onViolation: (message) => violations.push(message) },
      () => now,
    );
  const admitted = (n: number, admit: () => boolean) =>
    Array.from({ length: n }, admit).filter(Boolean).length;

  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
    dropped = [];
    violations = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("passes log lines up to the burst, then at the steady rate, and reports the rest once per interval", () => {
    const guard = limiter({ logLinesPerSecond: 100, logLineBurst: 500 });
    expect(admitted(600, () => guard.admitLog())).toBe(500);
    now += 1_000;
    expect(admitted(150, () => guard.admitLog())).toBe(100);
    expect(dropped).toEqual([]);
    vi.advanceTimersByTime(DROP_REPORT_INTERVAL_MS);
    expect(dropped).toEqual([{ logLines: 150, invalidLines: 0 }]);
    vi.advanceTimersByTime(10 * DROP_REPORT_INTERVAL_MS);
    expect(dropped).toHaveLength(1);
    expect(violations).toEqual([]);
  });

  it("logs invalid lines at their rate and counts every one", () => {
    const guard = limiter({ invalidLinesLoggedPerSecond: 10 });
    expect(admitted(50, () => guard.admitInvalid())).toBe(10);
    guard.close();
    expect(dropped).toEqual([{ logLines: 0, invalidLines: 40 }]);
    expect(violations).toEqual([]);
  });

  it("reports a log flood past its budget as one violation", () => {
    const guard = limiter({ logLineBurst: 500, maxDroppedLogLines: 5_000 });
    expect(admitted(5_500, () => guard.admitLog())).toBe(500);
    expect(violations).toEqual([]);
    expect(guard.admitLog()).toBe(false);
    expect(admitted(1_000, () => guard.admitLog())).toBe(0);
    expect(violations).toEqual([
      "The sandbox flooded the runner channel with log lines (over 5000 dropped); the agent was stopped",
    ]);
  });

  it("reports invalid lines past their budget as one violation", () => {
    const guard = limiter({ maxInvalidLines: 1_000 });
    for (let i = 0; i < 1_000; i++) guard.admitInvalid();
    expect(violations).toEqual([]);
    for (let i = 0; i < 1_000; i++) guard.admitInvalid();
    expect(violations).toEqual([
      "The sandbox wrote over 1000 invalid lines to the runner channel; the agent was stopped",
    ]);
  });

  it("reports nothing when nothing was dropped and stops reporting once closed", () => {
    const guard = limiter();
    guard.admitLog();
    guard.admitInvalid();
    vi.advanceTimersByTime(10 * DROP_REPORT_INTERVAL_MS);
    guard.close();
    expect(dropped).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
