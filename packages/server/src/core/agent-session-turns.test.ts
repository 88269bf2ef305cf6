import type { Block } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { claudeAnswer, claudeFixture, useSessions } from "./__fixtures__/agent-session-harness.js";

const start = useSessions();

/** A promise the test settles by hand. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe("AgentSession turns", () => {
  it("creates no sandbox until the first message", async () => {
    const { session, provider } = await start();
    expect(session.summary().runtime).toMatchObject({ sandboxStatus: "pending", busy: false });
    expect(provider.sandboxes).toEqual([]);
  });

  it("refuses a message past the queue's bounds with QUEUE_FULL; the queue takes messages again once it drains", async () => {
    const first = gate();
    const h = await start({
      runner: async (turn) => {
        if (turn.content === "first") await first.opened;
      },
      deps: { maxQueuedMessages: 2, maxQueuedBytes: 1_000 },
    });
    const running = h.session.sendMessage("first");
    expect(h.session.sendMessage("second")).toMatchObject({ queued: true });
    expect(() => h.session.sendMessage("x".repeat(999))).toThrow(
      expect.objectContaining({ code: "QUEUE_FULL" }),
    );
    const third = h.session.sendMessage("third");
    expect(third.queued).toBe(true);
    expect(() => h.session.sendMessage("fourth")).toThrow(expect.objectContaining({ code: "QUEUE_FULL" }));
    expect(h.session.summary().runtime.queuedMessages.map((message) => message.content)).toEqual([
      "second",
      "third",
    ]);

    first.open();
    await h.completed(running.turnId);
    await h.completed(third.turnId);
    expect(h.session.sendMessage("again").queued).toBe(false);
  });

  it("streams a recorded answer as blocks and ends the turn with end_turn", async () => {
    const h = await start({ runner: (turn) => turn.agent(...claudeFixture("text-answer")) });
    const { turnId, queued } = h.session.sendMessage("Hello");
    expect(queued).toBe(false);
    expect(h.session.isBusy).toBe(true);
    await h.completed(turnId);

    expect(h.ofType("session:turn:started")).toEqual([expect.objectContaining({ turnId, content: "Hello" })]);
    expect(h.ofType("session:turn:completed")).toEqual([
      expect.objectContaining({ turnId, stopReason: "end_turn" }),
    ]);
    const text = "Hello! I am a fake model answering with several streamed chunks of text.";
    const deltas = h.ofType("session:block:delta").map((event) => event.delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(text);
    const completedTypes = h.ofType("session:block:complete").map((event) => event.block.type);
    expect(completedTypes).toEqual(["user_message", "system", "assistant_text"]);
    expect(h.ofType("session:metadata:update").at(-1)?.usage.outputTokens).toBeGreaterThan(0);
    // The turn's end is the last word: nothing runs, the sandbox stays up for the next message.
    const types = h.events.map((event) => event.type);
    expect(types.indexOf("session:turn:completed")).toBeGreaterThan(
      types.lastIndexOf("session:block:complete"),
    );
    expect(h.ofType("session:status").at(-1)?.runtime).toMatchObject({
      busy: false,
      sandboxStatus: "running",
      queuedMessages: [],
    });
    expect(h.session.isBusy).toBe(false);
    expect(h.session.snapshot().blocks.map((block) => block.type)).toEqual([
      "user_message",
      "system",
      "assistant_text",
    ]);
    expect(h.errors()).toEqual([]);
  });

  it("streams tool calls with their results and indexes the files the agent wrote", async () => {
    const h = await start({
      runner: async (turn) => {
        turn.agent(...claudeFixture("write-bash-tools"));
        await turn.writeFile("notes.txt", "line one\nline two\n");
      },
    });
    await h.completed(h.session.sendMessage("Write a file and list it").turnId);
    const tools = h.session
      .snapshot()
      .blocks.filter((block): block is Extract<Block, { type: "tool_use" }> => block.type === "tool_use");
    expect(tools.map((tool) => [tool.toolName, tool.status])).toEqual([
      ["Write", "success"],
      ["Bash", "success"],
      ["Bash", "error"],
    ]);
    expect(h.session.snapshot().blocks.filter((block) => block.type === "tool_result")).toHaveLength(3);
    expect(h.ofType("session:file:created").map((event) => event.file.path)).toEqual(["notes.txt"]);
    expect(h.session.snapshot().files).toEqual([expect.objectContaining({ path: "notes.txt", size: 18 })]);
  });

  it("starts the runner with the session's configuration", async () => {
    const h = await start({ sessionOptions: { model: "session-model" } });
    h.session.sendMessage("Hi");
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    const sandbox = h.provider.lastSandbox;
    expect(sandbox.name).toBe(`session-${h.session.id}`);
    expect(sandbox.lastRunner.config).toMatchObject({
      architecture: "claude-agent-sdk",
      workspaceDir: sandbox.workspaceDir,
      model: "session-model",
    });
    expect(sandbox.lastRunner.env).toMatchObject({ HOME: sandbox.homeDir, ANTHROPIC_API_KEY: "sk-test" });
    expect(h.session.summary().runtime).toMatchObject({
      sandboxStatus: "running",
      sandboxId: sandbox.id,
      agentPid: sandbox.lastRunner.pid,
    });
  });

  it("queues messages sent while a turn runs and runs them in order on the same runner", async () => {
    const first = gate();
    const h = await start({
      runner: async (turn) => {
        if (turn.content === "one") await first.opened;
        turn.agent(...claudeAnswer(`You said ${turn.content}.`));
      },
    });
    const sent = ["one", "two", "three"].map((content) => h.session.sendMessage(content));
    expect(sent.map((s) => s.queued)).toEqual([false, true, true]);
    expect(h.session.summary().runtime).toMatchObject({
      busy: true,
      currentTurnId: sent[0]?.turnId,
      queuedMessages: [
        { turnId: sent[1]?.turnId, content: "two" },
        { turnId: sent[2]?.turnId, content: "three" },
      ],
    });
    first.open();
    await h.completed(sent[2]?.turnId ?? "");

    const turnIds = sent.map((s) => s.turnId);
    const frames = h.events.flatMap((event) =>
      event.type === "session:turn:started" || event.type === "session:turn:completed"
        ? [`${event.type === "session:turn:started" ? "start" : "end"} ${event.turnId}`]
        : [],
    );
    expect(frames).toEqual(turnIds.flatMap((id) => [`start ${id}`, `end ${id}`]));
    expect(h.ofType("session:turn:completed").map((event) => event.stopReason)).toEqual([
      "end_turn",
      "end_turn",
      "end_turn",
    ]);
    const queues = h.ofType("session:status").map((event) => event.runtime.queuedMessages.length);
    expect(queues).toContain(2);
    expect(queues.at(-1)).toBe(0);
    const conversation = h.session
      .snapshot()
      .blocks.flatMap((block) =>
        block.type === "user_message" || block.type === "assistant_text" ? [block.content] : [],
      );
    expect(conversation).toEqual([
      "one",
      "You said one.",
      "two",
      "You said two.",
      "three",
      "You said three.",
    ]);
    expect(h.provider.sandboxes).toHaveLength(1);
    const runner = h.provider.lastSandbox.lastRunner;
    expect(runner.commands.flatMap((c) => (c.type === "message" ? [c.turnId] : []))).toEqual(turnIds);
  });

  it("interrupts a running turn: the runner is asked, the turn ends interrupted, the next message runs", async () => {
    const h = await start({
      runner: async (turn) => {
        if (turn.content !== "slow") return turn.agent(...claudeAnswer("Done"));
        await turn.interrupted;
        // What Claude Code reports for a turn it stopped: a result with is_error and an aborted terminal reason.
        turn.agent(...claudeFixture("interrupted"));
      },
    });
    expect(h.session.interrupt()).toBe(false);
    const slow = h.session.sendMessage("slow");
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    expect(h.session.interrupt()).toBe(true);
    expect(await h.completed(slow.turnId)).toMatchObject({ stopReason: "interrupted" });
    const runner = h.provider.lastSandbox.lastRunner;
    expect(runner.commands.map((command) => command.type)).toEqual(["message", "interrupt"]);

    const next = h.session.sendMessage("next");
    expect(await h.completed(next.turnId)).toMatchObject({ stopReason: "end_turn" });
    expect(h.provider.lastSandbox.runners).toEqual([runner]);
    expect(runner.exitStatus).toBeUndefined();
    expect(h.errors()).toEqual([]);
  });

  it("an interrupt before the agent runs ends the turn interrupted without sending it", async () => {
    const h = await start({ runner: (turn) => turn.agent(...claudeAnswer("Done")) });
    const { turnId } = h.session.sendMessage("never sent");
    expect(h.session.interrupt()).toBe(true);
    expect(await h.completed(turnId)).toMatchObject({ stopReason: "interrupted" });
    expect(h.provider.lastSandbox.lastRunner.commands).toEqual([]);
    const next = h.session.sendMessage("sent");
    expect(await h.completed(next.turnId)).toMatchObject({ stopReason: "end_turn" });
    expect(h.provider.lastSandbox.lastRunner.commands.map((command) => command.type)).toEqual(["message"]);
  });

  it("kills a runner that ignores the interrupt after the grace period; the next message gets a new sandbox", async () => {
    const h = await start({
      deps: { interruptGraceMs: 20 },
      runner: async (turn) => {
        if (turn.content === "stuck") await new Promise(() => undefined);
      },
    });
    const stuck = h.session.sendMessage("stuck");
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    const runner = h.provider.lastSandbox.lastRunner;
    h.session.interrupt();
    expect(await h.completed(stuck.turnId)).toMatchObject({ stopReason: "interrupted" });
    expect(runner.exitStatus).toEqual({ code: null, signal: "SIGKILL" });
    expect(h.errors()).toEqual([]);

    const next = h.session.sendMessage("next");
    expect(await h.completed(next.turnId)).toMatchObject({ stopReason: "end_turn" });
    expect(h.provider.sandboxes).toHaveLength(2);
    expect(h.provider.sandboxes[0]?.isTerminated).toBe(true);
  });

  it("close during a turn: the turn ends interrupted, the sandbox is terminated, everything is stored", async () => {
    const h = await start({ runner: (turn) => turn.interrupted });
    const { turnId } = h.session.sendMessage("long");
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    const queued = h.session.sendMessage("never runs");
    await h.session.close();

    expect(h.ofType("session:turn:completed")).toEqual([
      expect.objectContaining({ turnId, stopReason: "interrupted" }),
    ]);
    expect(h.ofType("session:turn:started").map((event) => event.turnId)).not.toContain(queued.turnId);
    const sandbox = h.provider.lastSandbox;
    expect(sandbox.isTerminated).toBe(true);
    expect(sandbox.lastRunner.commands.map((command) => command.type)).toContain("interrupt");
    expect(h.session.summary().runtime).toMatchObject({ sandboxStatus: "terminated", busy: false });
    expect(() => h.session.sendMessage("after close")).toThrow(
      expect.objectContaining({ code: "SHUTTING_DOWN" }),
    );
    expect((await h.stored.loadSession(h.session.id))?.lastSeq).toBe(h.session.log.lastSeq);
    expect((await h.stored.loadBlocks(h.session.id)).map((block) => block.type)).toEqual(["user_message"]);
  });

  it("resume(afterSeq) answers the missed events, or a snapshot once they left the window", async () => {
    const h = await start({
      deps: { eventWindowSize: 5 },
      runner: (turn) => turn.agent(...claudeAnswer("Hi")),
    });
    await h.completed(h.session.sendMessage("Hello").turnId);
    const lastSeq = h.session.log.lastSeq;
    expect(lastSeq).toBeGreaterThan(5);
    expect(h.session.resume(lastSeq)).toEqual({ kind: "events", events: [] });
    expect(h.session.resume(lastSeq - 2)).toEqual({ kind: "events", events: h.events.slice(-2) });
    const resumed = h.session.resume(0);
    expect(resumed.kind).toBe("snapshot");
    if (resumed.kind !== "snapshot") return;
    expect(resumed.snapshot.lastSeq).toBe(lastSeq);
    expect(resumed.snapshot.blocks.map((block) => block.type)).toEqual([
      "user_message",
      "system",
      "assistant_text",
    ]);
  });
});
