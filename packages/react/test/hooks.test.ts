// @vitest-environment jsdom
import { AgentRuntimeClient } from "@agent-runtime/client";
import type { ScriptInput } from "@agent-runtime/mock-model";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { createElement as h, memo, useEffect, useState } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RealServer, startRealServer } from "../../client/test/support/real-server.js";
import {
  AgentServiceProvider,
  useAgentSession,
  useBlock,
  useBlockIds,
  useEvents,
  useMessages,
  useSessionList,
  useWorkspaceFiles,
} from "../src/index.js";

const ANSWER = `Here it comes: ${"streamed words in small pieces ".repeat(6)}done.`;

const script: ScriptInput = {
  rules: [
    {
      name: "write-and-stream",
      match: { prompt: "Make a file" },
      replies: [
        [{ tool: "Write", input: { file_path: "{{cwd}}/made.txt", content: "made by the agent\n" } }],
        { steps: [ANSWER], chunkSize: 5, chunkDelayMs: 10 },
      ],
    },
  ],
};

/** Renders per block id, counted by the tests. */
const renders = new Map<string, number>();

const BlockView = memo(function BlockView({ sessionId, blockId }: { sessionId: string; blockId: string }) {
  renders.set(blockId, (renders.get(blockId) ?? 0) + 1);
  const block = useBlock(sessionId, blockId);
  if (!block) return null;
  const text = "content" in block ? block.content : block.type === "tool_use" ? block.toolName : "";
  return h("li", { "data-testid": `block-${block.type}` }, text);
});

function Conversation({ sessionId }: { sessionId: string }) {
  const ids = useBlockIds(sessionId);
  return h(
    "ul",
    null,
    ids.map((id) => h(BlockView, { key: id, sessionId, blockId: id })),
  );
}

function Files({ sessionId }: { sessionId: string }) {
  const { files } = useWorkspaceFiles(sessionId);
  return h(
    "ul",
    null,
    files.map((f) => h("li", { key: f.path, "data-testid": "file" }, f.path)),
  );
}

function Composer({ sessionId }: { sessionId: string }) {
  const { sendMessage, isStreaming } = useMessages(sessionId);
  return h(
    "div",
    null,
    h("button", { type: "button", onClick: () => void sendMessage("Make a file please") }, "send"),
    h("span", { "data-testid": "streaming" }, String(isStreaming)),
  );
}

const eventTypes: string[] = [];

function App() {
  const { sessionId, session, runtime, createSession } = useAgentSession();
  const { sessions } = useSessionList();
  useEvents(sessionId, (event) => eventTypes.push(event.type));
  const [started, setStarted] = useState(false);
  useEffect(() => {
    if (started) return;
    setStarted(true);
    void createSession({ agentProfileRef: "test", architecture: "claude-agent-sdk" });
  }, [started, createSession]);
  if (!sessionId || !session) return h("p", null, "loading");
  return h(
    "main",
    null,
    h("p", { "data-testid": "status" }, runtime?.sandboxStatus),
    h("p", { "data-testid": "listed" }, String(sessions.some((s) => s.sessionId === sessionId))),
    h(Composer, { sessionId }),
    h(Conversation, { sessionId }),
    h(Files, { sessionId }),
  );
}

describe("React hooks against a real server", () => {
  let server: RealServer;

  beforeAll(async () => {
    server = await startRealServer(script);
  });
  afterEach(cleanup);
  afterAll(async () => {
    await server?.close();
  });

  it("sends a message, renders streamed blocks and files, and re-renders only the streaming block", async () => {
    render(h(AgentServiceProvider, { apiUrl: server.url }, h(App)));
    await screen.findByTestId("status", {}, { timeout: 10_000 });
    expect(screen.getByTestId("status").textContent).toBe("pending");
    await waitFor(() => expect(screen.getByTestId("listed").textContent).toBe("true"));

    await act(async () => screen.getByRole("button", { name: "send" }).click());
    await waitFor(() => expect(screen.getByTestId("file").textContent).toBe("made.txt"), { timeout: 60_000 });
    await waitFor(
      () => {
        const texts = screen.queryAllByTestId("block-assistant_text").map((el) => el.textContent);
        expect(texts).toContain(ANSWER);
        expect(screen.getByTestId("streaming").textContent).toBe("false");
      },
      { timeout: 60_000 },
    );
    expect(screen.getByTestId("block-user_message").textContent).toBe("Make a file please");
    expect(screen.getByTestId("block-tool_use").textContent).toBe("Write");
    expect(eventTypes).toContain("session:block:delta");

    const client = new AgentRuntimeClient({ apiUrl: server.url });
    const [created] = (await client.rest.listSessions()).sessions.filter(
      (s) => s.title === "Make a file please",
    );
    const data = await client.rest.getSession(created?.sessionId ?? "");
    client.close();
    const byType = (type: string) => data.blocks.filter((b) => b.type === type).map((b) => b.id);
    const userId = byType("user_message")[0] ?? "";
    const answerId = data.blocks.find((b) => b.type === "assistant_text" && b.content === ANSWER)?.id ?? "";
    const deltas = ANSWER.length / 5;
    const counts = Object.fromEntries(data.blocks.map((b) => [`${b.type}:${b.id}`, renders.get(b.id)]));
    console.info("render counts", counts, "answer deltas ≈", Math.ceil(deltas));
    // The streamed answer rendered about once per delta; the user message once per start/complete, not per delta.
    expect(renders.get(answerId)).toBeGreaterThan(deltas / 2);
    expect(renders.get(userId)).toBeLessThanOrEqual(3);
    for (const id of byType("tool_use")) expect(renders.get(id)).toBeLessThan(deltas / 2);
  });
});
