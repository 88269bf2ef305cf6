import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, TEST_PROFILE, type TestServer } from "../support/test-server.js";

/**
 * The real Codex (`codex-acp`) through the whole stack: REST and socket.io,
 * a real bubblewrap sandbox with restricted egress, the mock model's demo
 * Responses API behind a front door that checks the key the egress proxy
 * injects (the agent holds a placeholder).
 */
const MODEL_KEY = "test-model-key";

const completedBlocks = (events: readonly SessionEvent[]): Block[] =>
  events.flatMap((event) => (event.type === "session:block:complete" ? [event.block] : []));

describe("codex architecture (real Codex in a sandbox)", () => {
  let mock: MockModel;
  let gate: Server;
  let server: TestServer;
  /** The authorization header of every request that reached the model. */
  const seen: string[] = [];

  beforeAll(async () => {
    mock = await startMockModel({
      demo: true,
      script: {
        rules: [
          { name: "recall", match: { prompt: "What did I ask first" }, reply: "You asked for a file." },
          {
            name: "slow",
            match: { prompt: "Count slowly" },
            reply: { steps: ["tick ".repeat(400)], chunkDelayMs: 40, chunkSize: 5 },
          },
          { name: "after", match: { prompt: "Still there" }, reply: "Yes." },
          ...["allowed", "denied"].map((name) => ({
            name: `touch-${name}`,
            match: { prompt: `touch ${name}` },
            replies: [
              { tool: "exec_command", input: { cmd: `touch ${name}.marker`, workdir: "{{cwd}}" } },
              "Finished.",
            ],
          })),
        ],
      },
    });
    const target = new URL(mock.url);
    gate = createServer((req, res) => {
      seen.push(req.headers.authorization ?? "");
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
    server = await startTestServer({
      mock: { ...mock, url: gateUrl, requests: mock.requests },
      permissionTimeoutMs: 60_000,
      agents: [
        TEST_PROFILE,
        { id: "tooled", name: "Tooled", tools: ["Read"] },
        { id: "notebook", name: "Notebook", tools: ["Read", "NotebookEdit"] },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
    await new Promise((resolve) => gate?.close(resolve));
    await mock?.close();
  });

  it("is listed with its capabilities", async () => {
    const response = await fetch(`${server.url}/agent-architectures`);
    const { architectures } = (await response.json()) as { architectures: { id: string }[] };
    expect(architectures).toContainEqual({
      id: "codex",
      capabilities: expect.objectContaining({ permissions: true, nativeResume: true, subagents: false }),
    });
  });

  it("streams a demo-model turn that writes a file, then resumes natively after its sandbox is gone", async () => {
    const rest = restClient(server.url);
    const id = await rest.createSession({ architecture: "codex" });
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(id, 0);
      expect((await rest.send(id, "Please create a file")).status).toBe(202);
      await recorder.waitForTurns(1, 120_000);
      const blocks = completedBlocks(recorder.events);
      expect(blocks.map((block) => block.type)).toEqual(
        expect.arrayContaining(["user_message", "system", "assistant_text", "tool_use", "tool_result"]),
      );
      expect(blocks.find((block) => block.type === "tool_use")).toMatchObject({
        toolName: "Bash",
        status: "success",
      });
      const text = blocks
        .flatMap((block) => (block.type === "assistant_text" ? [block.content] : []))
        .join("");
      expect(text).toContain("I created `hello.txt`");
      expect(recorder.events.some((event) => event.type === "session:block:delta")).toBe(true);
      expect(recorder.events).toContainEqual(
        expect.objectContaining({
          type: "session:file:created",
          file: expect.objectContaining({ path: "hello.txt" }),
        }),
      );
      const file = await fetch(`${server.url}/sessions/${id}/files/hello.txt`);
      expect(await file.text()).toBe("Hello from the Agent Runtime demo model!\n");

      // The model saw the profile: its system prompt as developer instructions, its memory file as AGENTS.md.
      const first = mock.requests.find((request) => request.matched === "demo: create a file (codex)");
      expect(first?.system).toContain("You are the test agent.");
      expect(first?.system).toContain("# Test workspace");
      // The key reached the model from the egress proxy, never from inside the sandbox.
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((header) => header === `Bearer ${MODEL_KEY}`)).toBe(true);

      const before = await rest.session(id);
      expect(before.nativeSessionId).toBeTruthy();
      // Codex's usage, read from its rollout: the demo answer's two model calls.
      expect(before.usage.inputTokens).toBeGreaterThan(0);
      expect(before.usage.outputTokens).toBeGreaterThan(0);
      expect(recorder.events.some((event) => event.type === "session:metadata:update")).toBe(true);
      expect((await fetch(`${server.url}/sessions/${id}/stop`, { method: "POST" })).status).toBe(200);
      expect((await rest.send(id, "What did I ask first?")).status).toBe(202);
      await recorder.waitForTurns(2, 120_000);
      const recall = mock.requests.find((request) => request.matched === "recall");
      expect(JSON.stringify(recall?.messages)).toContain("Please create a file");
      expect((await rest.session(id)).nativeSessionId).toBe(before.nativeSessionId);
    } finally {
      recorder.close();
    }
  });

  it("asks before a command under the ask policy and honours the answers", async () => {
    const rest = restClient(server.url);
    const id = await rest.createSession({
      architecture: "codex",
      sessionOptions: { permissions: { mode: "ask" } },
    });
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(id, 0);
      for (const [turn, name, decision] of [
        [1, "allowed", "allow"],
        [2, "denied", "deny"],
      ] as const) {
        const mark = recorder.events.length;
        expect((await rest.send(id, `touch ${name}`)).status).toBe(202);
        const requested = await recorder.waitFor(
          (event) => event.type === "session:permission:requested" && recorder.events.indexOf(event) >= mark,
          120_000,
        );
        const request = (requested as { request: { requestId: string; toolName: string } }).request;
        expect(request.toolName).toBe("Bash");
        const answer = await rest.post(`/sessions/${id}/permissions/${request.requestId}`, { decision });
        expect(answer.status).toBe(200);
        await recorder.waitForTurns(turn, 120_000);
        const marker = await fetch(`${server.url}/sessions/${id}/files/${name}.marker`);
        expect(marker.status).toBe(decision === "allow" ? 200 : 404);
      }
    } finally {
      recorder.close();
    }
  });

  it("interrupts a streaming turn, keeping its partial text, and takes the next message", async () => {
    const rest = restClient(server.url);
    const id = await rest.createSession({ architecture: "codex" });
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(id, 0);
      expect((await rest.send(id, "Count slowly")).status).toBe(202);
      await recorder.waitFor((event) => event.type === "session:block:delta", 120_000);
      expect((await rest.interrupt(id)).status).toBe(200);
      const ended = await recorder.waitFor((event) => event.type === "session:turn:completed", 60_000);
      expect(ended).toMatchObject({ stopReason: "interrupted" });
      const partial = completedBlocks(recorder.events).find((block) => block.type === "assistant_text");
      expect(partial?.type === "assistant_text" && partial.content.startsWith("tick")).toBe(true);
      expect((await rest.send(id, "Still there?")).status).toBe(202);
      await recorder.waitForTurns(2, 120_000);
      const texts = completedBlocks(recorder.events).flatMap((block) =>
        block.type === "assistant_text" ? [block.content] : [],
      );
      expect(texts).toContain("Yes.");
    } finally {
      recorder.close();
    }
  });

  it("refuses a profile that lists a tool Codex has no counterpart of, naming Codex's tools, and an acp session without a command", async () => {
    const rest = restClient(server.url);
    const tooled = await rest.post("/sessions", { agentProfileRef: "tooled", architecture: "codex" });
    expect(tooled.status).toBe(201);
    const notebook = await rest.post("/sessions", { agentProfileRef: "notebook", architecture: "codex" });
    expect(notebook.status).toBe(400);
    expect((await notebook.json()).error.message).toContain(
      '"NotebookEdit" has no counterpart on codex, which could not offer it; its tools: Read (exec_command), Write (apply_patch)',
    );
    const acp = await rest.post("/sessions", { agentProfileRef: "test", architecture: "acp" });
    expect(acp.status).toBe(400);
    expect((await acp.json()).error.message).toContain("acp");
  });
});
