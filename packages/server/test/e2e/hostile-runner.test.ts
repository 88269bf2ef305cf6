import { Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import type { Block, SessionData } from "@agent-runtime/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxProvider } from "../../src/index.js";
import { probeHealth } from "../support/health-probe.js";
import { percentile } from "../support/percentile.js";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { notesRule } from "../support/scripts.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Everything a sandbox writes to its runner channel is hostile input. A
 * sandbox whose "runner" is a shell script writing a 300 MB line, a flood of
 * forged log lines, forged file paths or garbage ends its own session with
 * one RUNNER_PROTOCOL error and a stopped sandbox; the server's memory and
 * `/health` stay unaffected, and another session completes a real turn.
 */

/** Shell scripts run in place of the runner, by sandbox name; other sandboxes run the real runner. */
const hostileScripts = new Map<string, string>();

/** The local provider, except that sandboxes named in `hostileScripts` run their script as the runner. */
function withHostileRunners(local: SandboxProvider): SandboxProvider {
  return {
    id: local.id,
    capabilities: local.capabilities,
    check: () => local.check(),
    async create(spec) {
      const sandbox = await local.create(spec);
      const script = hostileScripts.get(spec.name);
      if (script === undefined) return sandbox;
      const runnerCommand = ["sh", "-c", script];
      return new Proxy(sandbox, {
        get(target, key) {
          if (key === "runnerCommand") return runnerCommand;
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    },
  };
}

/** A shell command printing `value` as one JSON line. */
const emit = (value: unknown) => `printf '%s\\n' '${JSON.stringify(value)}'`;
const READY = emit({ type: "ready", pid: 1 });
const FORGED_LOG = JSON.stringify({ type: "log", level: "error", message: "forged" });
const BAD_PATHS = ["../../../etc/shadow", "/etc/shadow", "a/../../../etc/passwd"];
/** A legal Linux name inside the workspace: a backslash is an ordinary character, never a separator. */
const BACKSLASH_NAME = "..\\..\\etc\\passwd";

/** Counts the server's log lines by message, without keeping them. */
function logCounter() {
  const counts = new Map<string, number>();
  const dropReports: Array<{ logLines: number; invalidLines: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (!text) continue;
        const entry = JSON.parse(text) as { msg?: string; logLines?: number; invalidLines?: number };
        const msg = entry.msg ?? "";
        counts.set(msg, (counts.get(msg) ?? 0) + 1);
        if (msg === "runner lines dropped") {
          dropReports.push({ logLines: entry.logLines ?? 0, invalidLines: entry.invalidLines ?? 0 });
        }
      }
      done();
    },
  });
  return { sink, counts, dropReports };
}

describe("hostile runner channel", () => {
  let server: TestServer;
  let rest: ReturnType<typeof restClient>;
  const logs = logCounter();

  beforeAll(async () => {
    server = await startTestServer({
      script: { rules: [notesRule] },
      wrapSandbox: withHostileRunners,
      runtime: { logger: pino({ level: "warn" }, logs.sink) },
      // `/health` is probed far more often than the default request rate limit allows.
      server: { rateLimit: false },
    });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
  });

  /**
   * Runs one session whose sandbox runs `script`, probing `/health` and
   * sampling the server's RSS until its turn is over and its sandbox is gone.
   */
  async function runHostile(script: string) {
    const sessionId = await rest.createSession();
    hostileScripts.set(`session-${sessionId}`, script);
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    let done = false;
    const probing = probeHealth(server.url, () => done);
    try {
      expect((await rest.send(sessionId, "Do your worst")).status).toBe(202);
      await recorder.waitForTurns(1, 20_000);
      await expect.poll(() => sandboxPids(`session-${sessionId}`), { timeout: 10_000 }).toEqual([]);
      // Nothing more is reported afterwards (no second error for the same cause).
      await delay(300);
    } finally {
      done = true;
      clearInterval(sampler);
      recorder.close();
    }
    const healthMs = await probing;
    const session = await rest.session(sessionId);
    const errors = session.blocks.filter((b): b is Extract<Block, { type: "error" }> => b.type === "error");
    const statuses = recorder.events.flatMap((e) =>
      e.type === "session:status" ? [e.runtime.sandboxStatus] : [],
    );
    const figures = {
      healthProbes: healthMs.length,
      healthP95: percentile(healthMs, 95),
      rssGrowthMiB: Math.round((rssPeak - rssBefore) / 2 ** 20),
    };
    return { session, errors, statuses, figures };
  }

  const expectStoppedForProtocol = (
    session: SessionData,
    errors: Array<Extract<Block, { type: "error" }>>,
  ) => {
    expect(errors.map((e) => e.code)).toEqual(["RUNNER_PROTOCOL"]);
    expect(session.runtime.sandboxStatus).not.toBe("running");
    expect(session.runtime.busy).toBe(false);
  };

  it("stops a sandbox that writes a 300 MB line, within bounded server memory", async () => {
    const { session, errors, statuses, figures } = await runHostile(
      `${READY}; head -c 300000000 /dev/zero | tr '\\0' a`,
    );
    console.info("300 MB line", figures);
    expectStoppedForProtocol(session, errors);
    expect(errors[0]?.message).toBe(
      "The sandbox wrote a line over 16 MiB to the runner channel; the agent was stopped",
    );
    expect(statuses).toContain("running");
    expect(statuses.at(-1)).not.toBe("running");
    expect(figures.rssGrowthMiB).toBeLessThan(100);
    expect(figures.healthP95).toBeLessThan(50);
  });

  it("stops a sandbox that floods forged log lines, after passing on a bounded number", async () => {
    const { session, errors, figures } = await runHostile(`${READY}; yes '${FORGED_LOG}'`);
    console.info("log flood", figures);
    expectStoppedForProtocol(session, errors);
    expect(errors[0]?.message).toBe(
      "The sandbox flooded the runner channel with log lines (over 5000 dropped); the agent was stopped",
    );
    expect(logs.counts.get("forged") ?? 0).toBeGreaterThan(0);
    expect(logs.counts.get("forged") ?? 0).toBeLessThanOrEqual(600);
    const dropped = logs.dropReports.reduce((sum, report) => sum + report.logLines, 0);
    expect(dropped).toBeGreaterThan(5_000);
    expect(logs.dropReports.length).toBeLessThanOrEqual(2);
    expect(figures.healthP95).toBeLessThan(50);
  });

  it("never indexes forged paths outside the workspace, and stops a sandbox that writes garbage", async () => {
    const fileLines = [...BAD_PATHS, BACKSLASH_NAME, "inside.txt"].map((path) =>
      emit({ type: "file", event: "created", path }),
    );
    const { session, errors, figures } = await runHostile(`${fileLines.join("; ")}; yes 'garbage {'`);
    console.info("forged paths and garbage", figures);
    expectStoppedForProtocol(session, errors);
    expect(errors[0]?.message).toBe(
      "The sandbox wrote over 1000 invalid lines to the runner channel; the agent was stopped",
    );
    expect(session.files.map((f) => f.path)).toEqual([BACKSLASH_NAME, "inside.txt"]);
    expect(logs.counts.get("invalid runner output line") ?? 0).toBeLessThanOrEqual(50);
    expect(figures.healthP95).toBeLessThan(50);
  });

  it("completes a real turn of another session on the same server", async () => {
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    expect((await rest.send(sessionId, "Create notes.txt")).status).toBe(202);
    await recorder.waitForTurns(1, 60_000);
    recorder.close();
    const session = await rest.session(sessionId);
    expect(session.blocks.filter((b) => b.type === "error")).toEqual([]);
    expect(
      session.blocks.some((b) => b.type === "assistant_text" && b.content === "Created notes.txt."),
    ).toBe(true);
    expect(session.files.map((f) => f.path)).toContain("notes.txt");
    expect(session.runtime.sandboxStatus).toBe("running");
  });
});
