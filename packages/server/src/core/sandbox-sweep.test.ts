import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { sweepOrphanSandboxes } from "./sandbox-sweep.js";

/** A provider whose `sweep` asks about `names`, then waits for `signal` when `hang`. */
function sweeping(names: string[], hang = false) {
  const asked: { name: string; orphan: boolean }[] = [];
  const provider = {
    id: "test",
    capabilities: {},
    async sweep(isOrphan: (name: string) => Promise<boolean>, signal: AbortSignal) {
      const stopped: string[] = [];
      for (const name of names) {
        const orphan = await isOrphan(name);
        asked.push({ name, orphan });
        if (orphan) stopped.push(name);
      }
      if (hang) await new Promise((resolve) => signal.addEventListener("abort", resolve));
      return { stopped, kept: names.length - stopped.length, skipped: 0 };
    },
  } as unknown as SandboxProvider;
  return { provider, asked };
}

describe("sweepOrphanSandboxes", () => {
  it("calls a session's sandbox an orphan only when storage has no such session, and logs what was stopped", async () => {
    const { provider, asked } = sweeping(["session-known", "session-gone", "warm-1"]);
    const logger = pino({ level: "silent" });
    const info = vi.spyOn(logger, "info");
    await sweepOrphanSandboxes(
      provider,
      { loadSession: async (id) => (id === "known" ? ({ id } as never) : null) },
      logger,
      new AbortController().signal,
    );
    expect(asked).toEqual([
      { name: "session-known", orphan: false },
      { name: "session-gone", orphan: true },
      { name: "warm-1", orphan: false },
    ]);
    expect(info).toHaveBeenCalledWith(
      expect.objectContaining({ stopped: ["session-gone"], kept: 2, skipped: 0 }),
      expect.stringContaining("sandbox sweep"),
    );
  });

  it("stops at its time limit, and a failing sweep is logged, never thrown", async () => {
    const { provider } = sweeping(["session-a"], true);
    const logger = pino({ level: "silent" });
    const info = vi.spyOn(logger, "info");
    const started = Date.now();
    await sweepOrphanSandboxes(
      provider,
      { loadSession: async () => null },
      logger,
      new AbortController().signal,
      200,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(info).toHaveBeenCalledWith(expect.objectContaining({ stoppedEarly: true }), expect.any(String));

    const warn = vi.spyOn(logger, "warn");
    const failing = {
      id: "test",
      sweep: async () => {
        throw new Error("listing failed");
      },
    } as unknown as SandboxProvider;
    await sweepOrphanSandboxes(
      failing,
      { loadSession: async () => null },
      logger,
      new AbortController().signal,
    );
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: "listing failed" }),
      "sandbox sweep failed",
    );
  });
});
