import { describe, expect, it } from "vitest";
import { createOpenCodeArchitecture } from "../agents/opencode/opencode-architecture.js";
import {
  claudeAnswer,
  claudeFixture,
  claudeResult,
  type SessionHarness,
  useSessions,
} from "./__fixtures__/agent-session-harness.js";
import { runnerLimitsSchema } from "./runner-limits.js";

const start = useSessions();

/** The error blocks of the session, as `code: message`. */
function errorBlocks(h: SessionHarness): string[] {
  return h.session
    .snapshot()
    .blocks.flatMap((block) => (block.type === "error" ? [`${block.code}: ${block.message}`] : []));
}

describe("AgentSession failures", () => {
  it("a runner crash mid-turn: one AGENT_FAILED, the turn ends with error, the next message gets a new sandbox", async () => {
    const h = await start({
      runner: (turn) => {
        if (turn.content !== "crash") return turn.agent(...claudeAnswer("Back"));
        turn.agent(...claudeFixture("text-answer").slice(0, 6));
        turn.runner.exit({ code: 137, signal: null });
      },
    });
    const crash = h.session.sendMessage("crash");
    expect(await h.completed(crash.turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual([expect.stringMatching(/^AGENT_FAILED: .*code 137/)]);
    expect(errorBlocks(h)).toHaveLength(1);
    expect(h.session.summary().runtime).toMatchObject({ busy: false, sandboxStatus: "terminated" });
    // What streamed before the crash is kept, completed.
    expect(h.session.snapshot().blocks.map((block) => block.type)).toContain("assistant_text");

    const next = h.session.sendMessage("again");
    expect(await h.completed(next.turnId)).toMatchObject({ stopReason: "end_turn" });
    expect(h.provider.sandboxes).toHaveLength(2);
    expect(h.provider.sandboxes[0]?.isTerminated).toBe(true);
    expect(h.errors()).toHaveLength(1);
  });

  it("an agent failure as the runner reports it (turn_end error, fatal, exit 1) is one AGENT_FAILED error", async () => {
    const h = await start({
      runner: (turn) => {
        turn.end("error", "Claude Code exited unexpectedly");
        turn.runner.send({ type: "fatal", message: "agent failed: Claude Code exited unexpectedly" });
        turn.runner.exit({ code: 1, signal: null });
      },
    });
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "terminated");
    expect(h.errors()).toEqual([expect.stringMatching(/^AGENT_FAILED: /)]);
    expect(errorBlocks(h)).toHaveLength(1);
  });

  it("a runner that writes fatal and exits mid-turn is one AGENT_FAILED error", async () => {
    const h = await start({
      runner: (turn) => {
        turn.runner.send({ type: "fatal", message: "agent failed: out of tokens" });
        turn.runner.exit({ code: 1, signal: null });
      },
    });
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual([expect.stringMatching(/^AGENT_FAILED: /)]);
    expect(errorBlocks(h)).toHaveLength(1);
  });

  it("an is_error result is one AGENT_FAILED error event and one error block", async () => {
    const messages = claudeFixture("text-answer");
    const result = claudeResult({ is_error: true, result: "API Error: 500 overloaded" });
    const h = await start({
      runner: (turn) => {
        turn.agent(...messages.slice(0, -1), result);
        // The runner ends a turn whose result is an error as `error`, with the result's text.
        turn.end("error", "API Error: 500 overloaded");
      },
    });
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual(["AGENT_FAILED: API Error: 500 overloaded"]);
    expect(errorBlocks(h)).toEqual(["AGENT_FAILED: API Error: 500 overloaded"]);
  });

  it("an agent error its parser shows as a block is one AGENT_FAILED error and that one block (OpenCode)", async () => {
    const session = "ses_main";
    const event = (type: string, properties: Record<string, unknown>) => ({ type, properties });
    const h = await start({
      deps: { architecture: createOpenCodeArchitecture() },
      runner: (turn) => {
        turn.agent(
          event("session.created", { info: { id: session, title: "t" } }),
          event("session.status", { sessionID: session, status: { type: "busy" } }),
          event("session.error", {
            sessionID: session,
            error: { name: "APIError", data: { message: "Overloaded" } },
          }),
          event("session.status", { sessionID: session, status: { type: "idle" } }),
        );
        turn.end("error", "Overloaded");
      },
    });
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual(["AGENT_FAILED: Overloaded"]);
    expect(errorBlocks(h)).toEqual(["APIError: Overloaded"]);
  });

  it("a runner breaking the protocol mid-turn is stopped with one RUNNER_PROTOCOL error", async () => {
    const h = await start({
      deps: { runnerLimits: { ...runnerLimitsSchema.parse({}), maxLineBytes: 1024 } },
      runner: (turn) => turn.agent({ type: "assistant", padding: "x".repeat(2048) }),
    });
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual([expect.stringMatching(/^RUNNER_PROTOCOL: /)]);
    expect(h.provider.lastSandbox.lastRunner.exitStatus).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("reports each resource limit once per turn, and a process killed at a limit is no AGENT_FAILED", async () => {
    const h = await start({
      runner: (turn) => {
        const sandbox = turn.runner.sandbox;
        sandbox.hitLimit("memory");
        sandbox.hitLimit("memory");
        sandbox.hitLimit("pids");
        if (turn.content === "killed") {
          turn.runner.exit({ code: null, signal: "SIGKILL", limit: "memory" });
        }
      },
    });
    const first = h.session.sendMessage("survives");
    expect(await h.completed(first.turnId)).toMatchObject({ stopReason: "end_turn" });
    expect(h.errors()).toEqual([
      expect.stringMatching(/^RESOURCE_LIMIT: .*memory/),
      expect.stringMatching(/^RESOURCE_LIMIT: .*process/),
    ]);

    const second = h.session.sendMessage("killed");
    expect(await h.completed(second.turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toHaveLength(4);
    expect(h.errors().every((error) => error.startsWith("RESOURCE_LIMIT: "))).toBe(true);
    expect(h.provider.sandboxes).toHaveLength(1);
    await expect.poll(() => h.provider.lastSandbox.isTerminated).toBe(true);
  });

  it("a sandbox that cannot be created fails the turn with its error; the next message tries again", async () => {
    const h = await start();
    h.provider.fail("create");
    const failed = h.session.sendMessage("Hi");
    expect(await h.completed(failed.turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual(["SANDBOX_FAILED: Injected create failure"]);
    expect(h.session.summary().runtime).toMatchObject({
      busy: false,
      sandboxStatus: "error",
      error: { code: "SANDBOX_FAILED" },
    });

    const next = h.session.sendMessage("Hi again");
    expect(await h.completed(next.turnId)).toMatchObject({ stopReason: "end_turn" });
    expect(h.session.summary().runtime).toMatchObject({ sandboxStatus: "running" });
    expect(h.session.summary().runtime.error).toBeUndefined();
  });

  it("a sandbox whose files cannot be written is terminated and the turn fails", async () => {
    const h = await start();
    h.provider.fail("writeFiles");
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual(["SANDBOX_FAILED: Injected writeFiles failure"]);
    expect(h.provider.sandboxes).toHaveLength(1);
    expect(h.provider.lastSandbox.isTerminated).toBe(true);
    expect(h.provider.lastSandbox.runners).toEqual([]);
  });

  it("a sandbox terminated from outside mid-turn: one AGENT_FAILED, nothing completed lost", async () => {
    const h = await start({
      runner: async (turn) => {
        turn.agent(...claudeAnswer("Partial").slice(0, 2));
        await turn.runner.sandbox.terminate();
      },
    });
    const { turnId } = h.session.sendMessage("Hi");
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "error" });
    expect(h.errors()).toEqual([expect.stringMatching(/^AGENT_FAILED: .*SIGKILL/)]);
    await h.session.sync();
    const stored = await h.stored.loadBlocks(h.session.id);
    expect(stored.map((block) => block.type)).toEqual(["user_message", "system", "assistant_text", "error"]);
  });
});
