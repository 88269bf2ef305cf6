import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * The real Gemini CLI (ACP mode) through the whole stack: REST and
 * socket.io, a real bubblewrap sandbox with restricted egress, the mock
 * model's demo Gemini API behind a front door that records the key the
 * egress proxy injects (the agent holds a placeholder).
 */
const MODEL_KEY = "test-model-key";

const completedBlocks = (events: readonly SessionEvent[]): Block[] =>
  events.flatMap((event) => (event.type === "session:block:complete" ? [event.block] : []));

describe("gemini architecture (real Gemini CLI in a sandbox)", () => {
  let mock: MockModel;
  let gate: Server;
  let server: TestServer;
  /** The x-goog-api-key header of every request that reached the model. */
  const seen: string[] = [];

  beforeAll(async () => {
    mock = await startMockModel({
      demo: true,
      script: {
        rules: [
          { name: "second", match: { prompt: "And now?" }, reply: "Still here." },
          { name: "recall", match: { prompt: "What did I ask first" }, reply: "You asked for a file." },
        ],
      },
    });
    const target = new URL(mock.url);
    gate = createServer((req, res) => {
      seen.push(String(req.headers["x-goog-api-key"] ?? ""));
      const forward = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      // A client that leaves (an interrupted turn) ends the model's answer too.
      res.on("close", () => forward.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => gate.listen(0, "127.0.0.1", resolve));
    const gateUrl = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
    server = await startTestServer({ mock: { ...mock, url: gateUrl, requests: mock.requests } });
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
    await new Promise((resolve) => gate?.close(resolve));
    await mock?.close();
  });

  it("streams a demo-model turn that writes a file, and keeps its process for the next turn", async () => {
    const rest = restClient(server.url);
    const id = await rest.createSession({ architecture: "gemini" });
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(id, 0);
      expect((await rest.send(id, "Please create a file")).status).toBe(202);
      await recorder.waitForTurns(1, 120_000);
      const blocks = completedBlocks(recorder.events);
      expect(blocks.filter((block) => block.type === "error")).toEqual([]);
      expect(blocks.find((block) => block.type === "tool_use")).toMatchObject({
        toolName: "Edit",
        status: "success",
      });
      const text = blocks
        .flatMap((block) => (block.type === "assistant_text" ? [block.content] : []))
        .join("");
      expect(text).toContain("I created `hello.txt`");
      const file = await fetch(`${server.url}/sessions/${id}/files/hello.txt`);
      expect(await file.text()).toBe("Hello from the Agent Runtime demo model!\n");

      // The profile reached the model: the memory file (GEMINI.md) and the system prompt (global memory).
      const first = mock.requests.find((request) => request.matched === "demo: create a file (gemini)");
      expect(first?.system).toContain("You are the test agent.");
      expect(first?.system).toContain("# Test workspace");
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((key) => key === MODEL_KEY)).toBe(true);

      const pid = (await rest.session(id)).runtime.agentPid;
      expect((await rest.send(id, "And now?")).status).toBe(202);
      await recorder.waitForTurns(2, 120_000);
      const later = completedBlocks(recorder.events).flatMap((block) =>
        block.type === "assistant_text" ? [block.content] : [],
      );
      expect(later).toContain("Still here.");
      expect((await rest.session(id)).runtime.agentPid).toBe(pid);
    } finally {
      recorder.close();
    }
  });

  it("is listed with native resume, and loads its session in a new sandbox after its sandbox is gone", async () => {
    const response = await fetch(`${server.url}/agent-architectures`);
    const { architectures } = (await response.json()) as { architectures: { id: string }[] };
    expect.soft(architectures).toContainEqual({
      id: "gemini",
      capabilities: expect.objectContaining({ nativeResume: true, toolRestriction: true }),
    });

    const rest = restClient(server.url);
    const id = await rest.createSession({ architecture: "gemini" });
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(id, 0);
      expect((await rest.send(id, "Please create a file")).status).toBe(202);
      await recorder.waitForTurns(1, 120_000);
      const before = await rest.session(id);
      expect(before.nativeSessionId).toBeTruthy();
      expect((await fetch(`${server.url}/sessions/${id}/stop`, { method: "POST" })).status).toBe(200);
      expect((await rest.send(id, "What did I ask first?")).status).toBe(202);
      await recorder.waitForTurns(2, 120_000);
      const after = await rest.session(id);
      expect(after.runtime.sandboxId).not.toBe(before.runtime.sandboxId);
      const recall = mock.requests.find((request) => request.matched === "recall");
      expect(JSON.stringify(recall?.messages)).toContain("Please create a file");
      expect(after.nativeSessionId).toBe(before.nativeSessionId);
      // The loaded session's history is not streamed again as blocks.
      const users = completedBlocks(recorder.events).filter((block) => block.type === "user_message");
      expect(users).toHaveLength(2);
    } finally {
      recorder.close();
    }
  });
});
