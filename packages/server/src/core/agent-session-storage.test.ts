import { describe, expect, it } from "vitest";
import { claudeTranscriptPath } from "../agents/claude-agent-sdk/transcript-path.js";
import type { FakeRunnerScript } from "../testing/fake-runner.js";
import { claudeAnswer, failingWrites, useSessions } from "./__fixtures__/agent-session-harness.js";
import { retryDelay } from "./session-sync.js";

const start = useSessions();

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

/**
 * Plays Claude Code: answers, appends the exchange to its transcript in the
 * agent's home, and writes `notes.md` into the workspace.
 */
const claudeWithTranscript: FakeRunnerScript = async (turn) => {
  const { sandbox } = turn.runner;
  const transcript = claudeTranscriptPath({ ...sandbox, nativeSessionId: "native-1" });
  const before = text(sandbox.files.get(transcript));
  await sandbox.writeFiles([{ path: transcript, content: `${before}{"user":"${turn.content}"}\n` }]);
  await turn.writeFile("notes.md", `# ${turn.content}\n`);
  turn.agent(...claudeAnswer(`Noted ${turn.content}`, "native-1"));
};

describe("AgentSession storage", () => {
  it("a storage outage is reported once and retried with growing delays until everything is stored", async () => {
    let failed: number[] = [];
    const h = await start({
      deps: { syncRetryMinMs: 10, syncRetryMaxMs: 40 },
      runner: (turn) => turn.agent(...claudeAnswer("Hi")),
      persistence: (stored) => {
        const flaky = failingWrites(stored, 4);
        failed = flaky.failedAt;
        return flaky.adapter;
      },
    });
    const { turnId } = h.session.sendMessage("Hello");
    await h.completed(turnId);
    const stored = async () => (await h.stored.loadSession(h.session.id))?.lastSeq === h.session.log.lastSeq;
    await expect.poll(stored, { interval: 5 }).toBe(true);

    expect(failed).toHaveLength(4);
    expect(h.ofType("error")).toEqual([expect.objectContaining({ code: "PERSISTENCE_FAILED" })]);
    // The syncs at the turn's start and end may fail back to back; retries then wait (see `retryDelay`).
    expect((failed[3] ?? 0) - (failed[2] ?? 0)).toBeGreaterThanOrEqual(9);
    const blocks = await h.stored.loadBlocks(h.session.id);
    expect(blocks.map((block) => block.type)).toEqual(["user_message", "system", "assistant_text"]);
  });

  it("hibernate terminates the sandbox; the next message restores the workspace and the transcript and resumes", async () => {
    const h = await start({ runner: claudeWithTranscript });
    await h.completed(h.session.sendMessage("first").turnId);
    const first = h.provider.lastSandbox;
    const transcript = claudeTranscriptPath({ ...first, nativeSessionId: "native-1" });
    expect(first.lastRunner.config.resumeSessionId).toBeUndefined();

    await h.session.hibernate();
    expect(first.isTerminated).toBe(true);
    expect(h.session.summary()).toMatchObject({
      nativeSessionId: "native-1",
      runtime: { sandboxStatus: "terminated", busy: false },
    });
    expect(h.session.summary().runtime.sandboxId).toBeUndefined();
    expect(await h.stored.loadTranscript(h.session.id)).toBe('{"user":"first"}\n');

    const second = h.session.sendMessage("second");
    await h.next("session:turn:started", (event) => event.turnId === second.turnId);
    await h.completed(second.turnId);
    expect(h.provider.sandboxes).toHaveLength(2);
    const restored = h.provider.lastSandbox;
    expect(restored.lastRunner.config.resumeSessionId).toBe("native-1");
    expect(text(restored.files.get(transcript))).toBe('{"user":"first"}\n{"user":"second"}\n');
    expect(h.ofType("session:file:modified").map((event) => event.file.path)).toEqual(["notes.md"]);
    // The recorded blocks are not duplicated by the resumed agent's init message.
    expect(h.session.snapshot().blocks.filter((block) => block.type === "system")).toHaveLength(1);
  });

  it("a transcript past the per-file quota is named, not read, and the stored one stays", async () => {
    const h = await start({
      runner: async (turn) => {
        await claudeWithTranscript(turn);
        if (turn.content !== "huge") return;
        const { sandbox } = turn.runner;
        const transcript = claudeTranscriptPath({ ...sandbox, nativeSessionId: "native-1" });
        await sandbox.writeFiles([{ path: transcript, content: "x".repeat(4096) }]);
      },
      deps: { maxPersistedFileBytes: 1024 },
    });
    await h.completed(h.session.sendMessage("first").turnId);
    await h.session.sync();
    await h.completed(h.session.sendMessage("huge").turnId);
    await h.session.sync();
    expect(await h.stored.loadTranscript(h.session.id)).toBe('{"user":"first"}\n');
    expect(h.errors()).toEqual([expect.stringMatching(/^STORAGE_QUOTA: .*transcript/)]);
  });

  it("ignores a native session id that names no valid transcript, and starts again after a restore", async () => {
    const h = await start({ runner: (turn) => turn.agent(...claudeAnswer("hi", "../../../../etc/passwd")) });
    await h.completed(h.session.sendMessage("first").turnId);
    expect(h.session.summary().nativeSessionId).toBeUndefined();
    await h.session.hibernate();
    await h.completed(h.session.sendMessage("second").turnId);
    expect(h.errors()).toEqual([]);
    expect(h.provider.sandboxes).toHaveLength(2);
  });

  it("restores workspace files written while no sandbox ran", async () => {
    const h = await start({ runner: claudeWithTranscript });
    await h.completed(h.session.sendMessage("first").turnId);
    await h.session.hibernate();
    await h.session.writeFile("todo.txt", "buy milk");
    await h.completed(h.session.sendMessage("second").turnId);
    expect(text(h.provider.lastSandbox.files.get("/workspace/todo.txt"))).toBe("buy milk");
    expect(text(h.provider.lastSandbox.files.get("/workspace/notes.md"))).toBe("# second\n");
  });

  it("an idle sandbox is synced and torn down after idleTimeoutMs", async () => {
    const h = await start({ deps: { idleTimeoutMs: 20 }, runner: claudeWithTranscript });
    await h.completed(h.session.sendMessage("first").turnId);
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "terminated");
    expect(h.provider.lastSandbox.isTerminated).toBe(true);
    expect(await h.stored.loadTranscript(h.session.id)).toBe('{"user":"first"}\n');
    expect((await h.stored.listWorkspaceFiles(h.session.id)).map((file) => file.path)).toEqual(["notes.md"]);
  });

  it("close waits for a teardown under way (an idle teardown racing a shutdown leaves no sandbox behind)", async () => {
    const h = await start({ runner: claudeWithTranscript });
    await h.completed(h.session.sendMessage("first").turnId);
    const sandbox = h.provider.lastSandbox;
    const terminate = sandbox.terminate.bind(sandbox);
    let finishTerminate!: () => void;
    const slow = new Promise<void>((resolve) => {
      finishTerminate = resolve;
    });
    sandbox.terminate = async () => {
      await slow;
      await terminate();
    };
    const hibernating = h.session.hibernate();
    await new Promise((resolve) => setTimeout(resolve, 20));
    let closed = false;
    const closing = h.session.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    finishTerminate();
    await Promise.all([hibernating, closing]);
    expect(sandbox.isTerminated).toBe(true);
  });

  it("hibernate does nothing while a turn runs", async () => {
    const h = await start({ runner: (turn) => turn.interrupted });
    h.session.sendMessage("busy");
    await h.next("session:status", (event) => event.runtime.sandboxStatus === "running");
    await h.session.hibernate();
    expect(h.provider.lastSandbox.isTerminated).toBe(false);
    expect(h.session.isBusy).toBe(true);
  });

  it("files: the index follows the runner's file events; reads, writes and deletes go to the live sandbox", async () => {
    const bytes = new Uint8Array([0, 255, 1, 254]);
    const h = await start({
      runner: async (turn) => {
        await turn.writeFile("data.bin", bytes);
        await turn.writeFile("a.txt", "one");
        await turn.writeFile("a.txt", "one two");
        await turn.writeFile("gone.txt", "x");
        await turn.deleteFile("gone.txt");
      },
    });
    await h.completed(h.session.sendMessage("Write").turnId);
    expect(h.ofType("session:file:created").map((event) => event.file.path)).toEqual([
      "data.bin",
      "a.txt",
      "gone.txt",
    ]);
    expect(h.ofType("session:file:modified").map((event) => [event.file.path, event.file.size])).toEqual([
      ["a.txt", 7],
    ]);
    expect(h.ofType("session:file:deleted").map((event) => event.path)).toEqual(["gone.txt"]);
    expect(h.session.snapshot().files.map((file) => [file.path, file.size])).toEqual([
      ["a.txt", 7],
      ["data.bin", 4],
    ]);

    expect(await h.session.readFile("data.bin")).toEqual(bytes);
    const sandbox = h.provider.lastSandbox;
    await h.session.writeFile("b.txt", "bee");
    expect(text(sandbox.files.get("/workspace/b.txt"))).toBe("bee");
    await h.session.deleteFile("a.txt");
    expect(sandbox.files.has("/workspace/a.txt")).toBe(false);
    await expect(h.session.readFile("../etc/passwd")).rejects.toMatchObject({ code: "INVALID_PATH" });
    await expect(h.session.readFile("missing.txt")).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
  });

  it("files: without a sandbox, reads, writes and deletes go to storage and update the index", async () => {
    const h = await start({ runner: (turn) => turn.writeFile("kept.txt", "kept") });
    await h.completed(h.session.sendMessage("Write").turnId);
    await h.session.hibernate();

    expect(text(await h.session.readFile("kept.txt"))).toBe("kept");
    await h.session.writeFile("new.txt", "fresh");
    expect(h.ofType("session:file:created").at(-1)?.file).toMatchObject({ path: "new.txt", size: 5 });
    expect(text(await h.session.readFile("new.txt"))).toBe("fresh");
    await h.session.deleteFile("kept.txt");
    expect(h.ofType("session:file:deleted").map((event) => event.path)).toEqual(["kept.txt"]);
    expect((await h.stored.listWorkspaceFiles(h.session.id)).map((file) => file.path)).toEqual(["new.txt"]);
    expect(h.session.snapshot().files.map((file) => file.path)).toEqual(["new.txt"]);
    await expect(h.session.deleteFile("kept.txt")).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
    await expect(h.session.writeFile("/abs.txt", "x")).rejects.toMatchObject({ code: "INVALID_PATH" });
    expect(h.provider.sandboxes).toHaveLength(1);
  });
});

describe("retryDelay", () => {
  it("starts at the minimum, doubles with each failure, and stops at the maximum", () => {
    expect([1, 2, 3, 4, 5].map((failures) => retryDelay(failures, 10, 40))).toEqual([10, 20, 40, 40, 40]);
    expect(retryDelay(1_000, 1_000, 30_000)).toBe(30_000);
  });
});
