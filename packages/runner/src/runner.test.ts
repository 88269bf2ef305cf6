import { PassThrough } from "node:stream";
import { type RunnerCommand, type RunnerOutput, runnerConfigSchema } from "@agent-runtime/protocol";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentHost, AgentHostEvents, AgentHostFactory, TurnEnd } from "./agents/agent-host.js";
import { runRunner } from "./runner.js";

/** An agent host played by the test: it starts when told to and ends turns when told to. */
class FakeHost implements AgentHost {
  readonly sent: { turnId: string; content: string }[] = [];
  interrupts = 0;
  #settleStart: { resolve: (started: { agentVersion?: string }) => void; reject: (error: Error) => void } = {
    resolve: () => {},
    reject: () => {},
  };
  readonly #started = new Promise<{ agentVersion?: string }>((resolve, reject) => {
    this.#settleStart = { resolve, reject };
  });

  constructor(readonly events: AgentHostEvents) {}

  /** Lets `start` resolve: the agent accepts messages from now on. */
  finishStarting(): void {
    this.#settleStart.resolve({ agentVersion: "1.0.0" });
  }

  /** Ends the turn of the last `send`, as a real host does through `turnEnd`. */
  endTurn(end: Omit<TurnEnd, "type" | "turnId"> = { stopReason: "end_turn" }): void {
    const last = this.sent.at(-1);
    if (!last) throw new Error("no turn was sent");
    this.events.turnEnd({ type: "turn_end", turnId: last.turnId, ...end });
  }

  start(): Promise<{ agentVersion?: string }> {
    return this.#started;
  }
  send(turnId: string, content: string): void {
    this.sent.push({ turnId, content });
  }
  respondPermission(): void {}
  async interrupt(): Promise<void> {
    this.interrupts++;
  }
  /** Like a real host closed while its agent starts, `start` then rejects. */
  async close(): Promise<void> {
    this.#settleStart.reject(new Error("closed while starting"));
  }
}

interface Harness {
  readonly host: FakeHost;
  readonly lines: RunnerOutput[];
  send(command: RunnerCommand): Promise<void>;
  readonly exited: Promise<number>;
}

const harnesses: Harness[] = [];

/** Runs `runRunner` over in-memory stdin/stdout with a fake host for both architectures. */
function startRunner(): Harness {
  const stdin = new PassThrough();
  const lines: RunnerOutput[] = [];
  let host: FakeHost | undefined;
  const factory: AgentHostFactory = (_config, events) => {
    host = new FakeHost(events);
    return host;
  };
  const exited = runRunner(
    runnerConfigSchema.parse({
      architecture: "claude-agent-sdk",
      workspaceDir: "/nowhere",
      watchWorkspace: false,
    }),
    {
      stdin,
      output: { write: (line) => lines.push(line), flush: async () => {} },
      stderr: new PassThrough(),
    },
    { "claude-agent-sdk": factory, opencode: factory },
  );
  if (!host) throw new Error("the runner did not create its host");
  const harness: Harness = {
    host,
    lines,
    exited,
    // Commands are read asynchronously; a macrotask later the runner has handled this one.
    send: async (command) => {
      stdin.write(`${JSON.stringify(command)}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  harnesses.push(harness);
  return harness;
}

const types = (lines: RunnerOutput[]) => lines.map((line) => line.type);
const turnEnds = (lines: RunnerOutput[]) => lines.filter((line) => line.type === "turn_end");

afterEach(async () => {
  for (const harness of harnesses.splice(0)) {
    await harness.send({ type: "shutdown" });
    await harness.exited;
  }
});

describe("runner turn handling", () => {
  it("holds a message read before the agent has started and hands it over once it has", async () => {
    const runner = startRunner();
    await runner.send({ type: "message", turnId: "t1", content: "hello" });
    expect(runner.host.sent).toEqual([]);

    runner.host.finishStarting();
    await new Promise((resolve) => setImmediate(resolve));
    expect(types(runner.lines)).toEqual(["ready"]);
    expect(runner.host.sent).toEqual([{ turnId: "t1", content: "hello" }]);
  });

  it("refuses a message while a turn runs with an error turn_end, leaving the running turn alone", async () => {
    const runner = startRunner();
    runner.host.finishStarting();
    await runner.send({ type: "message", turnId: "t1", content: "first" });
    await runner.send({ type: "message", turnId: "t2", content: "second" });

    expect(runner.host.sent.map((turn) => turn.turnId)).toEqual(["t1"]);
    expect(turnEnds(runner.lines)).toEqual([
      { type: "turn_end", turnId: "t2", stopReason: "error", error: expect.stringContaining("turn t1") },
    ]);

    runner.host.endTurn();
    expect(turnEnds(runner.lines).at(-1)).toEqual({ type: "turn_end", turnId: "t1", stopReason: "end_turn" });
    // The refused message was not kept: nothing more reaches the agent.
    expect(runner.host.sent.map((turn) => turn.turnId)).toEqual(["t1"]);
  });

  it("refuses a second message while the first is held for the starting agent", async () => {
    const runner = startRunner();
    await runner.send({ type: "message", turnId: "t1", content: "first" });
    await runner.send({ type: "message", turnId: "t2", content: "second" });
    expect(turnEnds(runner.lines)).toMatchObject([{ turnId: "t2", stopReason: "error" }]);

    runner.host.finishStarting();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runner.host.sent.map((turn) => turn.turnId)).toEqual(["t1"]);
  });

  it("accepts the next message once the previous turn has ended", async () => {
    const runner = startRunner();
    runner.host.finishStarting();
    await runner.send({ type: "message", turnId: "t1", content: "first" });
    runner.host.endTurn();
    await runner.send({ type: "message", turnId: "t2", content: "second" });
    runner.host.endTurn({ stopReason: "max_turns" });

    expect(runner.host.sent.map((turn) => turn.turnId)).toEqual(["t1", "t2"]);
    expect(turnEnds(runner.lines).map((line) => [line.turnId, line.stopReason])).toEqual([
      ["t1", "end_turn"],
      ["t2", "max_turns"],
    ]);
  });

  it("ends a held turn at once on interrupt; the agent never sees it", async () => {
    const runner = startRunner();
    await runner.send({ type: "message", turnId: "t1", content: "hello" });
    await runner.send({ type: "interrupt" });
    expect(turnEnds(runner.lines)).toEqual([{ type: "turn_end", turnId: "t1", stopReason: "interrupted" }]);

    runner.host.finishStarting();
    await runner.send({ type: "message", turnId: "t2", content: "again" });
    expect(runner.host.sent.map((turn) => turn.turnId)).toEqual(["t2"]);
    expect(runner.host.interrupts).toBe(0);
  });

  it("passes an interrupt of a running turn to the agent", async () => {
    const runner = startRunner();
    runner.host.finishStarting();
    await runner.send({ type: "message", turnId: "t1", content: "hello" });
    await runner.send({ type: "interrupt" });
    expect(runner.host.interrupts).toBe(1);
    expect(turnEnds(runner.lines)).toEqual([]);
  });
});
