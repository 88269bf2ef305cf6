import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block, SessionData, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * One scenario table, run against every architecture: the real server,
 * SQLite, a real bubblewrap sandbox, the real agent (Claude Code, OpenCode,
 * Codex or Gemini CLI, through the runner) against the scripted mock model,
 * and a real socket.io client. Parity is checked, not assumed.
 */
interface ArchitectureCase {
  readonly architecture: "claude-agent-sdk" | "opencode" | "codex" | "gemini";
  /** A file written and a command run, as the model calls them. */
  readonly write: (path: string, content: string) => { tool: string; input: Record<string, unknown> };
  readonly bash: (command: string) => { tool: string; input: Record<string, unknown> };
  /** The `tool_use` blocks' names for the two calls (ACP agents' are named by the call's kind). */
  readonly writeBlock: string;
  readonly bashBlock: string;
  /** A tool only this architecture offers, so each rule answers only its own agent. */
  readonly marker: string;
}

const cases: ArchitectureCase[] = [
  {
    architecture: "claude-agent-sdk",
    write: (path, content) => ({ tool: "Write", input: { file_path: `{{cwd}}/${path}`, content } }),
    bash: (command) => ({ tool: "Bash", input: { command, description: "Run it" } }),
    writeBlock: "Write",
    bashBlock: "Bash",
    marker: "Write",
  },
  {
    architecture: "opencode",
    write: (path, content) => ({ tool: "write", input: { filePath: `{{cwd}}/${path}`, content } }),
    bash: (command) => ({ tool: "bash", input: { command, description: "Run it" } }),
    writeBlock: "write",
    bashBlock: "bash",
    marker: "write",
  },
  {
    architecture: "codex",
    // Codex writes files through its shell (its patch tool takes free-form input the mock does not script).
    write: (path, content) => ({
      tool: "exec_command",
      input: { cmd: `printf '%s' '${content}' > ${path}`, workdir: "{{cwd}}" },
    }),
    bash: (command) => ({ tool: "exec_command", input: { cmd: command, workdir: "{{cwd}}" } }),
    writeBlock: "Bash",
    // Codex reports a command that reads a file (`cat`) as a read.
    bashBlock: "Read",
    marker: "exec_command",
  },
  {
    architecture: "gemini",
    write: (path, content) => ({ tool: "write_file", input: { file_path: `{{cwd}}/${path}`, content } }),
    bash: (command) => ({ tool: "run_shell_command", input: { command, description: "Run it" } }),
    writeBlock: "Edit",
    bashBlock: "Bash",
    marker: "run_shell_command",
  },
];

function scriptFor(c: ArchitectureCase): ScriptInput {
  return {
    defaults: { chunkSize: 6 },
    rules: [
      {
        name: "hello-file",
        match: { prompt: "Create hello.txt", toolOffered: c.marker },
        replies: [
          [
            "I will create the file and then show it to you.",
            c.write("hello.txt", "Hello from the sandbox\n"),
          ],
          c.bash("cat hello.txt"),
          "Done. The file hello.txt says: Hello from the sandbox.",
        ],
      },
      {
        name: "recall",
        match: { prompt: "What did I ask you before?", toolOffered: c.marker },
        reply: "You asked me to create hello.txt.",
      },
      {
        name: "long-story",
        match: { prompt: "Tell me a long story", toolOffered: c.marker },
        reply: {
          steps: [`Once upon a time ${"and then ".repeat(400)}the end.`],
          chunkDelayMs: 20,
          chunkSize: 4,
        },
      },
    ],
  };
}

async function json<T>(response: Response): Promise<T> {
  const body = (await response.json()) as T;
  return body;
}

describe.each(cases)("$architecture session end to end", (c) => {
  const script = scriptFor(c);
  let server: TestServer;
  let sessionId: string;
  let recorder: SocketRecorder;

  beforeAll(async () => {
    server = await startTestServer({ script });
  });

  afterAll(async () => {
    recorder?.close();
    await server?.dispose();
  });

  it("creates a session without a sandbox", async () => {
    const response = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test", architecture: c.architecture }),
    });
    expect(response.status).toBe(201);
    const created = await json<SessionData>(response);
    sessionId = created.sessionId;
    expect(created.runtime.sandboxStatus).toBe("pending");
    expect(created.runtime.sandboxId).toBeUndefined();
  });

  it("streams a text answer, a Write and a Bash tool call, and the new file", async () => {
    recorder = new SocketRecorder(server.url);
    const ack = await recorder.join(sessionId, 0);
    expect(ack.ok).toBe(true);

    const send = await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "Create hello.txt and show it to me" }),
    });
    expect(send.status).toBe(202);
    expect((await json<{ turnId: string; queued: boolean }>(send)).queued).toBe(false);
    await recorder.waitForTurns(1, 120_000);
    await recorder.waitFor((e) => e.type === "session:file:created" && e.file.path === "hello.txt", 10_000);

    const events = recorder.events;
    // Contiguous seq from 1: nothing lost, nothing duplicated.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    const statuses = events.flatMap((e) => (e.type === "session:status" ? [e.runtime.sandboxStatus] : []));
    expect(statuses.indexOf("creating")).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf("running")).toBeGreaterThan(statuses.indexOf("creating"));

    const completed = events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
    const kinds = completed.filter((b) => b.subagentId === undefined).map((b) => b.type);
    expect(kinds[0]).toBe("user_message");
    const [writeUse, bashUse] = completed.filter((b) => b.type === "tool_use" && b.subagentId === undefined);
    expect(writeUse?.type === "tool_use" && writeUse.toolName).toBe(c.writeBlock);
    expect(bashUse?.type === "tool_use" && bashUse.toolName).toBe(c.bashBlock);
    const results = completed.filter(
      (b): b is Extract<Block, { type: "tool_result" }> => b.type === "tool_result",
    );
    const bashResult = results.find((r) => bashUse?.type === "tool_use" && r.toolUseId === bashUse.toolUseId);
    expect(bashResult?.content).toContain("Hello from the sandbox");
    expect(bashResult?.isError).toBeFalsy();

    // Order: the Write call completes before its result, which precedes the Bash call.
    const indexOf = (id: string | undefined) => completed.findIndex((b) => b.id === id);
    const writeResult = results.find(
      (r) => writeUse?.type === "tool_use" && r.toolUseId === writeUse.toolUseId,
    );
    expect(indexOf(writeResult?.id)).toBeGreaterThan(-1);
    expect(indexOf(bashUse?.id)).toBeGreaterThan(indexOf(writeResult?.id));

    // Text streamed in several deltas and completed with their concatenation.
    const texts = completed.filter((b) => b.type === "assistant_text");
    const final = texts.at(-1);
    expect(final?.type === "assistant_text" && final.content).toContain("Hello from the sandbox");
    const deltas = events.filter(
      (e): e is Extract<SessionEvent, { type: "session:block:delta" }> =>
        e.type === "session:block:delta" && e.blockId === final?.id,
    );
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.map((d) => d.delta).join("")).toBe(final?.type === "assistant_text" ? final.content : "");
    const startSeq =
      events.find((e) => e.type === "session:block:start" && e.block.id === final?.id)?.seq ?? 0;
    const completeSeq =
      events.find((e) => e.type === "session:block:complete" && e.blockId === final?.id)?.seq ?? 0;
    expect(startSeq).toBeLessThan(deltas[0]?.seq ?? 0);
    expect(completeSeq).toBeGreaterThan(deltas.at(-1)?.seq ?? Number.POSITIVE_INFINITY);

    // REST shows the same blocks, and the file.
    const data = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    // Same blocks, in the order they started (a tool call completes after its result).
    const started = events.flatMap((e) => (e.type === "session:block:start" ? [e.block.id] : []));
    expect(data.blocks.map((b) => b.id)).toEqual(started);
    const finalById = new Map(completed.map((b) => [b.id, b]));
    expect(data.blocks).toEqual(data.blocks.map((b) => finalById.get(b.id)));
    expect(data.runtime.sandboxStatus).toBe("running");
    expect(data.files.map((f) => f.path)).toContain("hello.txt");
    const file = await fetch(`${server.url}/sessions/${sessionId}/files/hello.txt`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("Hello from the sandbox\n");
  });

  it("reuses the sandbox and the agent process for the next message, which sees the conversation", async () => {
    const before = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    const requestsBefore = server.mock.requests.length;
    await fetch(`${server.url}/sessions/${sessionId}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "What did I ask you before?" }),
    });
    await recorder.waitForTurns(2);
    const after = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    expect(after.runtime.sandboxId).toBe(before.runtime.sandboxId);
    expect(after.runtime.agentPid).toBe(before.runtime.agentPid);
    const last = after.blocks.at(-1);
    expect(last?.type === "assistant_text" && last.content).toBe("You asked me to create hello.txt.");
    const recall = server.mock.requests.slice(requestsBefore).find((r) => r.matched === "recall");
    expect(JSON.stringify(recall?.messages)).toContain("Create hello.txt and show it to me");
    // No new `creating` status in the second turn.
    const secondTurnStart = recorder.events.filter((e) => e.type === "session:turn:started")[1]?.seq ?? 0;
    const laterStatuses = recorder.events.filter(
      (e) => e.type === "session:status" && e.seq > secondTurnStart && e.runtime.sandboxStatus === "creating",
    );
    expect(laterStatuses).toEqual([]);
  });

  it("interrupts a running turn, which ends as interrupted, and takes the next message", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}/sessions/${sessionId}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const from = recorder.events.length;
    await post("/messages", { content: "Tell me a long story" });
    await recorder.waitFor(
      (e) => e.seq > from && e.type === "session:block:delta" && e.delta.length > 0,
      60_000,
    );
    const interrupt = await post("/interrupt", {});
    expect(await interrupt.json()).toEqual({ interrupted: true });
    const completed = await recorder.waitFor(
      (e) => e.seq > from && e.type === "session:turn:completed",
      30_000,
    );
    expect(completed.type === "session:turn:completed" && completed.stopReason).toBe("interrupted");
    const story = recorder.events
      .slice(from)
      .flatMap((e) =>
        e.type === "session:block:complete" && e.block.type === "assistant_text" ? [e.block] : [],
      )
      .at(-1);
    if (story?.type === "assistant_text") expect(story.content).not.toContain("the end.");

    const next = recorder.events.length;
    await post("/messages", { content: "What did I ask you before?" });
    const after = await recorder.waitFor((e) => e.seq > next && e.type === "session:turn:completed", 60_000);
    expect(after.type === "session:turn:completed" && after.stopReason).toBe("end_turn");
    expect((await (await fetch(`${server.url}/sessions/${sessionId}`)).json()).runtime.busy).toBe(false);
  });

  it("loads the session and its blocks back after a restart on the same SQLite file", async () => {
    const before = await json<SessionData>(await fetch(`${server.url}/sessions/${sessionId}`));
    recorder.close();
    await server.stop();
    const restarted = await startTestServer({ dataDir: server.dataDir, script });
    try {
      const after = await json<SessionData>(await fetch(`${restarted.url}/sessions/${sessionId}`));
      expect(after.blocks).toEqual(before.blocks);
      expect(after.lastSeq).toBeGreaterThanOrEqual(before.lastSeq);
      expect(after.runtime.sandboxStatus).toBe("terminated");
      expect(after.files.map((f) => f.path)).toContain("hello.txt");
      const file = await fetch(`${restarted.url}/sessions/${sessionId}/files/hello.txt`);
      expect(await file.text()).toBe("Hello from the sandbox\n");
      const list = await json<{ sessions: Array<{ sessionId: string }> }>(
        await fetch(`${restarted.url}/sessions`),
      );
      expect(list.sessions.map((s) => s.sessionId)).toContain(sessionId);

      // The next message recreates the sandbox and the agent resumes its own transcript.
      const requestsBefore = restarted.mock.requests.length;
      const again = new SocketRecorder(restarted.url);
      await again.join(sessionId);
      await fetch(`${restarted.url}/sessions/${sessionId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content: "What did I ask you before?" }),
      });
      await again.waitForTurns(1);
      again.close();
      const recall = restarted.mock.requests.slice(requestsBefore).find((r) => r.matched === "recall");
      expect(JSON.stringify(recall?.messages)).toContain("Create hello.txt and show it to me");
      const resumed = await json<SessionData>(await fetch(`${restarted.url}/sessions/${sessionId}`));
      expect(resumed.runtime.sandboxStatus).toBe("running");
      expect(resumed.blocks.slice(0, before.blocks.length)).toEqual(before.blocks);
    } finally {
      await restarted.stop();
    }
  });
});
