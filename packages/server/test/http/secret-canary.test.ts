import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { pino } from "pino";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLACEHOLDER_API_KEY } from "../../src/core/model-egress.js";
import {
  type AgentServer,
  createAgentRuntime,
  createAgentServer,
  createLocalSandboxProvider,
  createSqlitePersistenceAdapter,
} from "../../src/index.js";

const API_KEY_CANARY = "canary-api-key-7f3a9c1e";
const SECOND_KEY_CANARY = "canary-api-key-2b8d4e6f";
const MODEL_KEY_CANARY = "canary-model-key-5e1b7d20";
const CANARIES = [API_KEY_CANARY, SECOND_KEY_CANARY, MODEL_KEY_CANARY];

function expectNoCanary(text: string, where: string): void {
  for (const canary of CANARIES) expect(text.includes(canary), `${canary} in ${where}`).toBe(false);
}

/**
 * RELIABILITY cases 10 and 17: a full session (tool calls, files, errors,
 * a restart from storage, the agent printing its environment) with canary
 * API keys and a canary model key configured, and every log line (at trace
 * level), stored byte, socket frame and error body checked for them. The
 * model key never enters the sandbox: its egress proxy injects it.
 */
describe("secret canary", () => {
  let dir: string;
  let mock: MockModel;
  let server: AgentServer;
  let url: string;
  let socket: Socket;
  const logLines: string[] = [];
  const frames: string[] = [];
  const errorBodies: string[] = [];
  const auth = { authorization: `Bearer ${API_KEY_CANARY}`, "content-type": "application/json" };

  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, { ...init, headers: { ...auth, ...init.headers } });
    if (response.status >= 400) errorBodies.push(await response.clone().text());
    return response;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-canary-"));
    // Sandboxes run as other users, which must be able to enter it.
    await chmod(dir, 0o711);
    mock = await startMockModel({
      script: {
        rules: [
          {
            name: "work",
            match: { prompt: "Do some work" },
            replies: [
              [
                "Writing a file.",
                { tool: "Write", input: { file_path: "{{cwd}}/out.txt", content: "hello\n" } },
              ],
              {
                tool: "Bash",
                // printenv: the agent's environment is in the transcript, the socket frames and storage.
                input: { command: "ls -la && cat out.txt && printenv && false", description: "Look" },
              },
              "Done, with one failed command.",
            ],
          },
        ],
      },
    });
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const runtime = createAgentRuntime({
      persistence: createSqlitePersistenceAdapter({ filename: join(dir, "agent-runtime.sqlite") }),
      sandbox: createLocalSandboxProvider({ rootDir: join(dir, "sandboxes") }),
      agents: [{ id: "test", name: "Test agent", systemPrompt: "You are the test agent." }],
      model: { baseUrl: mock.url, apiKey: MODEL_KEY_CANARY },
      logger: pino({ level: "trace" }, capture),
      idleTimeoutMs: 0,
      syncIntervalMs: 200,
    });
    server = await createAgentServer({ runtime, apiKeys: [API_KEY_CANARY, SECOND_KEY_CANARY] });
    url = await server.listen({ port: 0 });
    socket = io(url, { transports: ["websocket"], reconnection: false, auth: { token: API_KEY_CANARY } });
    socket.onAny((name: string, payload: unknown) => frames.push(`${name} ${JSON.stringify(payload)}`));
    await new Promise((resolve) => socket.once("connect", resolve));
  });
  afterAll(async () => {
    socket?.close();
    await server?.close();
    await mock?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a full session with tool calls, files and errors", async () => {
    expect(mock.url).toBeTruthy();
    const created = await call("/sessions", {
      method: "POST",
      body: JSON.stringify({ agentProfileRef: "test" }),
    });
    const { sessionId } = (await created.json()) as { sessionId: string };
    await socket.timeout(10_000).emitWithAck("sessions:subscribe");
    await socket.timeout(10_000).emitWithAck("session:join", { sessionId, afterSeq: 0 });
    await call(`/sessions/${sessionId}/messages`, {
      method: "POST",
      body: JSON.stringify({ content: "Do some work" }),
    });
    const deadline = Date.now() + 90_000;
    while (!frames.some((f) => f.startsWith("session:turn:completed")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(frames.some((f) => f.startsWith("session:turn:completed"))).toBe(true);
    expect(mock.requests.length).toBeGreaterThanOrEqual(3);

    // Error paths, each of which could echo what it was given.
    await call(`/sessions/${sessionId}/files/..%2f${MODEL_KEY_CANARY.slice(0, 4)}`);
    await call("/sessions", { method: "POST", body: "{not json" });
    await call(`/sessions/${sessionId}/messages`, { method: "POST", body: JSON.stringify({ content: "" }) });
    await call("/sessions/nope");
    for (const bad of ["wrong", `${API_KEY_CANARY}x`, API_KEY_CANARY.slice(0, -1)]) {
      await call("/sessions", { headers: { authorization: `Bearer ${bad}` } });
    }
    await call(`/sessions/${sessionId}/files/out.txt`);
    await call(`/sessions/${sessionId}/workspace`);
    await call(`/sessions/${sessionId}/subagents/none`);
    await call(`/sessions/${sessionId}/permissions/none`, {
      method: "POST",
      body: JSON.stringify({ decision: "allow" }),
    });
    expect(errorBodies.length).toBeGreaterThanOrEqual(7);
  });

  it("shows the canaries in no log line, stored byte, socket frame or error body", async () => {
    await server.close();
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expectNoCanary(line, `log line ${line.slice(0, 200)}`);
    for (const frame of frames) expectNoCanary(frame, `socket frame ${frame.slice(0, 200)}`);
    // The agent did print its environment: it holds the placeholder, not the key.
    expect(frames.some((frame) => frame.includes(PLACEHOLDER_API_KEY))).toBe(true);
    for (const body of errorBodies) expectNoCanary(body, `error body ${body}`);
    for (const name of await readdir(dir)) {
      if (!name.startsWith("agent-runtime.sqlite")) continue;
      expectNoCanary((await readFile(join(dir, name))).toString("latin1"), `stored file ${name}`);
    }
  });
});
