// @vitest-environment jsdom
import { AgentRuntimeClient } from "@agent-runtime/client";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { createElement as h, type ReactNode } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RealServer, startRealServer } from "../../client/test/support/real-server.js";
import {
  AgentServiceProvider,
  useEvents,
  useMessages,
  useSubagents,
  useWorkspaceFiles,
} from "../src/index.js";

const ANSWER = `The notes are ready: ${"words streamed in small pieces ".repeat(5)}done.`;
const REPORT = "## Listing done\nThe workspace holds notes.md and src/app.ts.";

const script: ScriptInput = {
  rules: [
    {
      name: "notes",
      match: { prompt: "Make the notes" },
      replies: [
        { tool: "Write", input: { file_path: "{{cwd}}/notes.md", content: "notes v1\n" } },
        {
          tool: "Bash",
          input: {
            command: "mkdir -p src && printf 'export {};\\n' > src/app.ts && sleep 0.4",
            description: "Add the app",
          },
        },
        { steps: [ANSWER], chunkSize: 5, chunkDelayMs: 15 },
      ],
    },
    {
      name: "rewrite",
      match: { prompt: "Rewrite the notes" },
      replies: [
        { tool: "Bash", input: { command: "printf 'notes v2\\n' > notes.md", description: "Rewrite" } },
        "Rewritten.",
      ],
    },
    {
      name: "delegate",
      match: { prompt: "Delegate the listing" },
      replies: [
        {
          tool: "Agent",
          input: {
            description: "List the workspace",
            prompt: "List the workspace files",
            subagent_type: "general-purpose",
            run_in_background: false,
          },
        },
        "The helper answered.",
      ],
    },
    {
      name: "subagent",
      match: { prompt: "List the workspace files" },
      replies: [{ tool: "Bash", input: { command: "ls", description: "List files" } }, REPORT],
    },
    { name: "hello", match: { prompt: "Say hello" }, reply: "Hello there." },
  ],
};

const LONG = 60_000;

describe("hook helpers against a real server", () => {
  let server: RealServer;
  let client: AgentRuntimeClient;
  let sessionId: string;
  /** Workspace file reads the client made (`GET /sessions/:id/files/…`). */
  const fileReads: string[] = [];
  const clients: AgentRuntimeClient[] = [];

  const wrapperOf =
    (c: AgentRuntimeClient) =>
    ({ children }: { children: ReactNode }) =>
      h(AgentServiceProvider, { apiUrl: server.url, client: c }, children);
  const freshClient = () => {
    const c = new AgentRuntimeClient({ apiUrl: server.url });
    clients.push(c);
    return c;
  };

  /** Sends `content` and waits until its turn ended and nothing streams. */
  async function runTurn(content: string): Promise<void> {
    const { result, unmount } = renderHook(() => useMessages(sessionId), { wrapper: wrapperOf(client) });
    await waitFor(() => expect(result.current.blocks).toBeDefined());
    const before = result.current.blocks.filter((b) => b.type === "user_message").length;
    await act(async () => {
      await result.current.sendMessage(content);
    });
    await waitFor(
      () => {
        expect(result.current.blocks.filter((b) => b.type === "user_message")).toHaveLength(before + 1);
        expect(result.current.isStreaming).toBe(false);
      },
      { timeout: LONG },
    );
    unmount();
  }

  beforeAll(async () => {
    server = await startRealServer(script);
    client = new AgentRuntimeClient({
      apiUrl: server.url,
      fetch: (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if ((init?.method ?? "GET") === "GET" && url.includes("/files/")) fileReads.push(url);
        return fetch(input, init);
      },
    });
    sessionId = (await client.createSession({ agentProfileRef: "test", architecture: "claude-agent-sdk" }))
      .sessionId;
  });
  afterEach(cleanup);
  afterAll(async () => {
    client?.close();
    for (const c of clients) c.close();
    await server?.close();
  });

  it("useMessages: streamingBlockIds, getBlock, getBlocksByType and usage; tool results are timed", async () => {
    const seenStreaming = new Set<string>();
    const { result } = renderHook(
      () => {
        const messages = useMessages(sessionId);
        for (const id of messages.streamingBlockIds) seenStreaming.add(id);
        return messages;
      },
      { wrapper: wrapperOf(client) },
    );
    await waitFor(() => expect(result.current.usage).toBeDefined());
    expect(result.current.streamingBlockIds.size).toBe(0);
    await act(async () => {
      await result.current.sendMessage("Make the notes");
    });
    await waitFor(
      () => {
        expect(result.current.getBlocksByType("assistant_text").map((b) => b.content)).toContain(ANSWER);
        expect(result.current.isStreaming).toBe(false);
      },
      { timeout: LONG },
    );
    const messages = result.current;
    const answer = messages.getBlocksByType("assistant_text").find((b) => b.content === ANSWER);
    // The streamed answer was listed as streaming while it streamed, and nothing is now.
    expect(seenStreaming).toContain(answer?.id);
    expect(messages.streamingBlockIds.size).toBe(0);
    expect(messages.getBlock(answer?.id ?? "")).toBe(answer);
    expect(messages.getBlock("no-such-block")).toBeUndefined();

    const tools = messages.getBlocksByType("tool_use");
    expect(tools.map((t) => [t.toolName, t.status])).toEqual([
      ["Write", "success"],
      ["Bash", "success"],
    ]);
    expect(messages.getBlocksByType("user_message").map((b) => b.content)).toEqual(["Make the notes"]);
    const results = messages.getBlocksByType("tool_result");
    expect(results.map((r) => r.toolUseId)).toEqual(tools.map((t) => t.toolUseId));
    for (const r of results) expect(r.durationMs).toEqual(expect.any(Number));
    // The Bash call slept 0.4 s: its measured duration covers that.
    expect(results[1]?.durationMs).toBeGreaterThanOrEqual(400);
    expect(results[1]?.durationMs).toBeLessThan(LONG);

    await waitFor(() => expect(result.current.usage?.outputTokens).toBeGreaterThan(0), { timeout: LONG });
    expect(typeof result.current.usageEstimated).toBe("boolean");
  });

  it("useWorkspaceFiles: glob and extension filters; getFile cached until the file changes", async () => {
    const { result } = renderHook(
      () => ({
        all: useWorkspaceFiles(sessionId),
        ts: useWorkspaceFiles(sessionId, { glob: "src/**/*.ts" }),
        md: useWorkspaceFiles(sessionId, { extensions: ["MD"] }),
        none: useWorkspaceFiles(sessionId, { glob: "*.md", extensions: ["ts"] }),
      }),
      { wrapper: wrapperOf(client) },
    );
    await waitFor(() => expect(result.current.all.files.map((f) => f.path)).toContain("src/app.ts"));
    expect(result.current.ts.files.map((f) => f.path)).toEqual(["src/app.ts"]);
    expect(result.current.md.files.map((f) => f.path)).toEqual(["notes.md"]);
    expect(result.current.none.files).toEqual([]);

    const reads = () => fileReads.filter((url) => url.endsWith("/notes.md")).length;
    const [first, second] = await Promise.all([
      result.current.md.getFile("notes.md"),
      result.current.all.getFile("notes.md"),
    ]);
    expect([first, second]).toEqual(["notes v1\n", "notes v1\n"]);
    expect(await result.current.md.getFile("notes.md")).toBe("notes v1\n");
    expect(reads()).toBe(1);

    const v1 = result.current.md.files[0];
    await runTurn("Rewrite the notes");
    await waitFor(() => expect(result.current.md.files[0]).not.toEqual(v1), { timeout: LONG });
    expect(await result.current.md.getFile("notes.md")).toBe("notes v2\n");
    expect(await result.current.md.getFile("notes.md")).toBe("notes v2\n");
    expect(reads()).toBe(2);
    await expect(result.current.all.getFile("missing.md")).rejects.toMatchObject({ status: 404 });
  });

  it("useSubagents: each subagent's blocks, status and details, live and after a fresh load", async () => {
    const { result } = renderHook(() => useSubagents(sessionId), { wrapper: wrapperOf(client) });
    await runTurn("Delegate the listing");
    await waitFor(
      () => {
        expect(result.current.subagents).toHaveLength(1);
        expect(result.current.subagents[0]?.status).toBe("completed");
        expect(result.current.subagents[0]?.block?.status).toBe("completed");
      },
      { timeout: LONG },
    );
    const [live] = result.current.subagents;
    const shape = (blocks: readonly Block[] | undefined) =>
      blocks?.map((b) => (b.type === "tool_use" ? `tool_use:${b.toolName}` : b.type));
    expect(shape(live?.blocks)).toEqual(
      expect.arrayContaining(["tool_use:Bash", "tool_result", "assistant_text"]),
    );
    expect(live?.blocks?.every((b) => b.subagentId === live.id)).toBe(true);
    expect(live?.block).toMatchObject({
      type: "subagent",
      name: "general-purpose",
      displayName: "General purpose",
      summary: "Listing done",
      description: "List the workspace",
      durationMs: expect.any(Number),
    });

    // A client that loads the session afterwards gets the transcript without asking for it.
    const later = renderHook(() => useSubagents(sessionId), { wrapper: wrapperOf(freshClient()) });
    await waitFor(() => expect(later.result.current.subagents[0]?.blocks).toBeDefined(), { timeout: LONG });
    expect(shape(later.result.current.subagents[0]?.blocks)).toEqual(shape(live?.blocks));
    expect(later.result.current.subagents[0]?.status).toBe("completed");
    expect(later.result.current.subagents[0]?.block?.summary).toBe("Listing done");
  });

  it("useEvents(): a global log of the socket events received, with clear()", async () => {
    const debugged = freshClient();
    const { result } = renderHook(() => ({ log: useEvents(), messages: useMessages(sessionId) }), {
      wrapper: wrapperOf(debugged),
    });
    await waitFor(() => expect(result.current.messages.blocks.length).toBeGreaterThan(0));
    await act(async () => {
      await result.current.messages.sendMessage("Say hello");
    });
    await waitFor(
      () => {
        const names = result.current.log.events.map((e) => e.name);
        expect(names).toContain("session:turn:completed");
      },
      { timeout: LONG },
    );
    const { events } = result.current.log;
    expect(events.map((e) => e.name)).toEqual(
      expect.arrayContaining(["session:turn:started", "session:block:start", "session:block:complete"]),
    );
    const start = events.find((e) => e.name === "session:block:start");
    expect(start).toMatchObject({ sessionId, payload: { type: "session:block:start", sessionId } });
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
    act(() => result.current.log.clear());
    expect(result.current.log.events).toEqual([]);
  });
});
