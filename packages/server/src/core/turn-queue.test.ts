import type { ErrorCode, TurnStopReason } from "@agent-runtime/protocol";
import { describe, expect, it, vi } from "vitest";
import type { AgentProcess } from "./agent-process.js";
import { TurnQueue } from "./turn-queue.js";

/** A turn queue over an agent that takes every message and every interrupt; what it says is recorded. */
function queueWithAgent() {
  const agent = {
    sendMessage: vi.fn(async () => true),
    interrupt: vi.fn(() => true),
    send: vi.fn(() => true),
  };
  const failures: Array<{ code: ErrorCode; message: string }> = [];
  const ended: Array<{ turnId: string; stopReason: TurnStopReason }> = [];
  const queue = new TurnQueue(
    agent as unknown as AgentProcess,
    {
      started: () => undefined,
      ended: (turn, stopReason) => ended.push({ turnId: turn.turnId, stopReason }),
      idle: () => undefined,
      failed: (code, message) => failures.push({ code, message }),
    },
    { maxQueuedMessages: 20, maxQueuedBytes: 4_194_304 },
  );
  return { queue, agent, failures, ended };
}

describe("TurnQueue: a stalled model", () => {
  it("says MODEL_STALLED once and interrupts the agent; the turn ends `error` when the agent stops", () => {
    const { queue, agent, failures, ended } = queueWithAgent();
    const { turnId } = queue.push("Tell me a story");
    queue.modelStalled("nothing for 120 s");
    queue.modelStalled("nothing for 120 s again");
    expect(failures).toEqual([{ code: "MODEL_STALLED", message: "nothing for 120 s" }]);
    expect(agent.interrupt).toHaveBeenCalledTimes(1);
    expect(ended).toEqual([]);

    // The interrupted agent reports the aborted request: not said again, and the turn is an error.
    queue.turnEnded({ type: "turn_end", turnId, stopReason: "interrupted", error: "Request was aborted" });
    expect(failures.map((f) => f.code)).toEqual(["MODEL_STALLED"]);
    expect(ended).toEqual([{ turnId, stopReason: "error" }]);
  });

  it("ends the turn `error` without AGENT_FAILED when the agent had to be killed", () => {
    const { queue, failures, ended } = queueWithAgent();
    const { turnId } = queue.push("Tell me a story");
    queue.modelStalled("stalled");
    queue.agentExited({ code: null, signal: "SIGKILL" });
    expect(failures.map((f) => f.code)).toEqual(["MODEL_STALLED"]);
    expect(ended).toEqual([{ turnId, stopReason: "error" }]);
  });

  it("is ignored when no turn runs, and the next turn is not affected", () => {
    const { queue, agent, failures, ended } = queueWithAgent();
    queue.modelStalled("stalled between turns");
    expect(failures).toEqual([]);
    expect(agent.interrupt).not.toHaveBeenCalled();
    const { turnId } = queue.push("Say hello");
    queue.turnEnded({ type: "turn_end", turnId, stopReason: "end_turn" });
    expect(ended).toEqual([{ turnId, stopReason: "end_turn" }]);
  });
});
