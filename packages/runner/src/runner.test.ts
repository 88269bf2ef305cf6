import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { type RunnerCommand, type RunnerOutput, runnerConfigSchema } from "@agent-runtime/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
  /** Warm-ups asked for; the last completes when `finishWarmUp` is called (only when `warms`). */
  warmUps = 0;
  #warmedUp: () => void = () => {};
  finishWarmUp(): void {
    this.#warmedUp();
  }
  /** Models asked for; each change completes when `finishModelChange` is called. */
  readonly models: string[] = [];
  #modelChanged: () => void = () => {};
  setModel(model: string): Promise<void> {
    this.models.push(model);
    return new Promise((resolve) => {
      this.#modelChanged = resolve;
    });
  }
  finishModelChange(): void {
    this.#modelChanged();
  }
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
function startRunner(workspace?: { dir: string }, options: { warms?: boolean } = {}): Harness {
  const stdin = new PassThrough();
  const lines: RunnerOutput[] = [];
  let host: FakeHost | undefined;
  const factory: AgentHostFactory = (_config, events) => {
    host = new FakeHost(events);
    if (options.warms) {
      const fake = host;
      Object.assign(fake, {
        warmUp: () => {
          fake.warmUps++;
          return new Promise<void>((resolve) => {
            Object.assign(fake, { finishWarmUp: resolve });
          });
        },
      });
    }
    return host;
  };
  const exited = runRunner(
    runnerConfigSchema.parse({
      architecture: "claude-agent-sdk",
      workspaceDir: workspace?.dir ?? "/nowhere",
      watchWorkspace: workspace !== undefined,
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

/** Resolves once `condition` holds, checked every few milliseconds. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
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

  it("warms the agent up when no message is held at its start, and holds a message until the warm-up is done", async () => {
    const runner = startRunner(undefined, { warms: true });
    runner.host.finishStarting();
    await until(() => runner.host.warmUps === 1);
    await runner.send({ type: "message", turnId: "t1", content: "hello" });
    expect(runner.host.sent).toEqual([]);

    runner.host.finishWarmUp();
    await until(() => runner.host.sent.length === 1);
  });

  it("does not warm up an agent whose first message came with its start", async () => {
    const runner = startRunner(undefined, { warms: true });
    await runner.send({ type: "message", turnId: "t1", content: "hello" });
    runner.host.finishStarting();
    await until(() => runner.host.sent.length === 1);
    expect(runner.host.warmUps).toBe(0);
  });

  it("hands a message read after set_model to the agent only once its model is changed", async () => {
    const runner = startRunner();
    runner.host.finishStarting();
    await runner.send({ type: "set_model", model: "model-b" });
    await runner.send({ type: "message", turnId: "t1", content: "hello" });
    expect(runner.host.models).toEqual(["model-b"]);
    expect(runner.host.sent).toEqual([]);

    runner.host.finishModelChange();
    await until(() => runner.host.sent.length === 1);
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

describe("runner workspace reports", () => {
  let workspaceDir: string;
  beforeEach(() => {
    workspaceDir = mkdtempSync(join(tmpdir(), "runner-turn-files-"));
  });
  afterEach(() => {
    rmSync(workspaceDir, { recursive: true, force: true });
  });

  it("reports every file the turn wrote, in folders made during the turn too, before its turn_end", async () => {
    const runner = startRunner({ dir: workspaceDir });
    runner.host.finishStarting();
    await until(() => types(runner.lines).includes("ready"));
    await runner.send({ type: "message", turnId: "t1", content: "write" });
    const written: string[] = [];
    for (let folder = 0; folder < 20; folder++) {
      mkdirSync(join(workspaceDir, `folder ${folder}`, "below"), { recursive: true });
      for (const name of ["a.txt", "below/b.bin"]) {
        writeFileSync(join(workspaceDir, `folder ${folder}`, name), `${folder} ${name}`);
        written.push(`folder ${folder}/${name}`);
      }
    }
    writeFileSync(join(workspaceDir, "done.txt"), "done");
    written.push("done.txt");
    runner.host.endTurn();
    await until(() => turnEnds(runner.lines).length === 1);

    const end = runner.lines.findIndex((line) => line.type === "turn_end");
    const reported = runner.lines
      .slice(0, end)
      .flatMap((line) => (line.type === "file" && line.event !== "deleted" ? [line.path] : []));
    expect(reported.sort()).toEqual([...written].sort());
    // Each file is reported once: the watcher's own later report of one adds nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const all = runner.lines.flatMap((line) => (line.type === "file" ? [`${line.event} ${line.path}`] : []));
    expect(all.sort()).toEqual(written.map((path) => `created ${path}`).sort());
  });

  it("reports a file deleted during the turn before its turn_end, and one changed in place as modified", async () => {
    writeFileSync(join(workspaceDir, "old.txt"), "old");
    writeFileSync(join(workspaceDir, "kept.txt"), "one");
    const runner = startRunner({ dir: workspaceDir });
    runner.host.finishStarting();
    await until(() => types(runner.lines).includes("ready"));
    await runner.send({ type: "message", turnId: "t1", content: "change" });
    rmSync(join(workspaceDir, "old.txt"));
    writeFileSync(join(workspaceDir, "kept.txt"), "two, longer");
    runner.host.endTurn();
    await until(() => turnEnds(runner.lines).length === 1);

    const end = runner.lines.findIndex((line) => line.type === "turn_end");
    expect(runner.lines.slice(0, end).filter((line) => line.type === "file")).toEqual([
      { type: "file", event: "deleted", path: "old.txt" },
      expect.objectContaining({ type: "file", event: "modified", path: "kept.txt", size: 11 }),
    ]);
  });
});
