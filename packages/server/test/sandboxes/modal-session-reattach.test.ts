import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { SessionEvent } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AgentRuntime } from "../../src/core/agent-runtime.js";
import { type FakeModalContainers, fakeModalContainers } from "./modal-fake-containers.js";
import type { FakeModalApi } from "./modal-grpc-fake.js";
import { MODAL_TOKENS, modalRuntime, recordEvents } from "./modal-session-runtime.js";

/*
 * A server killed with SIGKILL while its session's Modal sandbox runs (the
 * runner still alive in it, as on Modal after a crash), then a new server
 * on the same data: the session's sandbox is found by name and re-attached
 * (no "already exists" failure, no second sandbox), the old runner is
 * stopped, and the agent resumes natively in it. The crashing server is a
 * process of its own (modal-crashing-server.ts); the real SDK on both sides
 * against the fake Modal API, the real Claude Code, the mock model. Needs
 * root.
 */
const isRoot = process.getuid?.() === 0;
const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./modal-crashing-server.ts", import.meta.url));

describe.skipIf(!isRoot)("Modal: re-attaching a session's sandbox after a server crash", () => {
  let containers: FakeModalContainers;
  let api: FakeModalApi;
  let mock: MockModel;
  let dataDir: string;
  let runtime: AgentRuntime | undefined;

  beforeAll(async () => {
    containers = await fakeModalContainers();
    api = await containers.start(MODAL_TOKENS);
    mock = await startMockModel({
      script: {
        rules: [
          {
            name: "notes",
            match: { prompt: "Create notes.txt" },
            replies: [
              { tool: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "remember the milk\n" } },
              "Created notes.txt.",
            ],
          },
          {
            name: "long",
            match: { prompt: "Tell me a long story" },
            reply: {
              steps: [`Once upon a time ${"and then ".repeat(400)}the end.`],
              chunkDelayMs: 20,
              chunkSize: 4,
            },
          },
          { name: "recall", match: { prompt: "What did I ask you before?" }, reply: "To create notes.txt." },
        ],
      },
    });
  });
  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await mock?.close();
    await containers?.close();
  });

  /** Runs a server process through its first turn (or into it), kills it with SIGKILL, and says what it had. */
  async function crashedServer(prompt: string, midTurn = false) {
    dataDir = await mkdtemp(join(tmpdir(), "modal-reattach-"));
    const { workspaceDir, homeDir } = containers;
    const config = { dataDir, workspaceDir, homeDir, modelUrl: mock.url, prompt, midTurn };
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@agent-runtime/source", SCRIPT, JSON.stringify(config)],
      {
        cwd: SERVER_DIR,
        env: { PATH: process.env.PATH, MODAL_SERVER_URL: api.url, TEST_LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const line = await Promise.race([
      createInterface({ input: child.stdout! })
        [Symbol.asyncIterator]()
        .next()
        .then((next) => next.value as string | undefined),
      exited.then(() => undefined),
    ]);
    expect(line, stderr).toBeDefined();
    child.kill("SIGKILL");
    await exited;
    return JSON.parse(line!) as { sessionId: string; sandboxId: string };
  }

  /** The commands the fake runs in `sandboxId` that have not exited. */
  const runningExecs = (sandboxId: string) =>
    [...(api.sandboxes.get(sandboxId)?.execs.values() ?? [])].filter((exec) => exec.exit === undefined);
  const isRunner = (exec: { child: { spawnargs: string[] } }) =>
    exec.child.spawnargs.some((arg) => arg.endsWith("/runner.mjs"));

  it("takes the running sandbox over at the next message, and the agent resumes in it", {
    timeout: 120_000,
  }, async () => {
    const crashed = await crashedServer("Create notes.txt");
    expect(crashed.sandboxId).toMatch(/^sb-/);
    // The crashed server's runner still runs in the sandbox, as on Modal.
    const leftRunning = runningExecs(crashed.sandboxId);
    expect(leftRunning.filter(isRunner)).toHaveLength(1);
    const creates = api.calls.filter((call) => call.method === "SandboxCreateV2").length;

    runtime = modalRuntime({ containers, dataDir, modelUrl: mock.url });
    await runtime.start();
    const session = await runtime.sessions.get(crashed.sessionId);
    const recorder = recordEvents(session);
    const requests = mock.requests.length;
    const end = await recorder.turn("What did I ask you before?");
    expect(end.stopReason).toBe("end_turn");
    expect(recorder.events.filter((event) => event.type === "error")).toEqual([]);

    // Re-attached: the same sandbox, found by name after Modal refused the name; no sandbox was added.
    expect(session.snapshot().runtime.sandboxId).toBe(crashed.sandboxId);
    const calls = api.calls.slice(0);
    expect(calls.filter((call) => call.method === "SandboxCreateV2").length).toBe(creates + 1);
    expect([...api.sandboxes.values()].filter((sandbox) => !sandbox.result).length).toBe(1);
    expect(calls.some((call) => call.method === "SandboxGetFromNameV2")).toBe(true);
    // The crashed server's runner was stopped: one runner runs, the new server's.
    expect(leftRunning.filter(isRunner).every((exec) => exec.exit !== undefined)).toBe(true);
    expect(runningExecs(crashed.sandboxId).filter(isRunner)).toHaveLength(1);
    // Natively resumed: the agent sent its earlier conversation along.
    const recall = mock.requests.slice(requests).find((request) => request.matched === "recall");
    expect(JSON.stringify(recall?.messages)).toContain("Create notes.txt");
    recorder.stop();
  });

  it("re-attaches when the crashed server was mid-turn: the turn is closed, the next message resumes", {
    timeout: 120_000,
  }, async () => {
    const crashed = await crashedServer("Tell me a long story", true);
    runtime = modalRuntime({ containers, dataDir, modelUrl: mock.url });
    await runtime.start();
    // Loading the session closes the crashed turn and starts its sandbox again (recovery): re-attached.
    const session = await runtime.sessions.get(crashed.sessionId);
    const recorder = recordEvents(session);
    await recorder.waitFor(
      "re-attached sandbox",
      (event): event is Extract<SessionEvent, { type: "session:status" }> =>
        event.type === "session:status" && event.runtime.sandboxStatus === "running",
    );
    expect(session.snapshot().runtime.sandboxId).toBe(crashed.sandboxId);
    expect(
      session.snapshot().blocks.some((block) => block.type === "error" && block.code === "SERVER_RESTARTED"),
    ).toBe(true);
    const requests = mock.requests.length;
    expect((await recorder.turn("What did I ask you before?")).stopReason).toBe("end_turn");
    expect(session.snapshot().runtime.sandboxId).toBe(crashed.sandboxId);
    const recall = mock.requests.slice(requests).find((request) => request.matched === "recall");
    expect(JSON.stringify(recall?.messages)).toContain("Tell me a long story");
    recorder.stop();
  });
});
