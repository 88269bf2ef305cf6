import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AgentRuntime } from "../../src/core/agent-runtime.js";
import { type FakeModalContainers, fakeModalContainers } from "./modal-fake-containers.js";
import type { FakeModalApi } from "./modal-grpc-fake.js";
import { MODAL_TOKENS, modalRuntime, recordEvents } from "./modal-session-runtime.js";

/*
 * A session that stays active past its Modal sandbox's maximum lifetime
 * (`timeoutMs`, enforced by the fake API as Modal does): the runtime hands
 * it over before the end, between turns (the workspace saved, the sandbox
 * stopped, a `system` block saying so), and the next message runs in a new
 * sandbox with the workspace restored and the agent resuming natively.
 * The real SDK, the real Claude Code, the mock model. Needs root.
 */
const isRoot = process.getuid?.() === 0;
/** Short, so the test waits little: the hand-over comes a quarter of it before the end. */
const LIFETIME_MS = 20_000;

describe.skipIf(!isRoot)("Modal: a session outliving its sandbox's lifetime", () => {
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
          { name: "recall", match: { prompt: "What did I ask you before?" }, reply: "To create notes.txt." },
          {
            name: "long",
            match: { prompt: "Tell me a long story" },
            reply: {
              steps: [`Once upon a time ${"and then ".repeat(2_000)}the end.`],
              chunkDelayMs: 20,
              chunkSize: 4,
            },
          },
        ],
      },
    });
    dataDir = await mkdtemp(join(tmpdir(), "modal-lifetime-"));
  });
  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
  });
  afterAll(async () => {
    await mock?.close();
    await containers?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("is handed over to a new sandbox before the lifetime ends, the workspace restored and the agent resumed", {
    timeout: 120_000,
  }, async () => {
    runtime = modalRuntime({ containers, dataDir, modelUrl: mock.url, modal: { timeoutMs: LIFETIME_MS } });
    await runtime.start();
    const session = await runtime.sessions.create({ agentProfileRef: "test" });
    const recorder = recordEvents(session);
    expect((await recorder.turn("Create notes.txt")).stopReason).toBe("end_turn");
    const first = session.snapshot().runtime.sandboxId!;
    expect(first).toMatch(/^sb-/);

    // Nothing is sent any more: the hand-over comes on its own, before Modal's stop.
    const notice = await recorder.waitFor(
      "hand-over notice",
      (event): event is Extract<SessionEvent, { type: "session:block:complete" }> =>
        event.type === "session:block:complete" &&
        event.block.type === "system" &&
        event.block.subtype === "sandbox_lifetime",
      LIFETIME_MS + 10_000,
    );
    expect(notice.block).toMatchObject({ subtype: "sandbox_lifetime", metadata: { sandboxId: first } });
    expect((notice.block as Extract<Block, { type: "system" }>).content).toMatch(/lifetime/);
    expect(api.sandboxes.get(first)?.stoppedBy).toBe("terminate");
    expect(session.snapshot().runtime.sandboxStatus).toBe("terminated");
    expect(session.snapshot().files.map((file) => file.path)).toContain("notes.txt");

    const requests = mock.requests.length;
    expect((await recorder.turn("What did I ask you before?")).stopReason).toBe("end_turn");
    const second = session.snapshot().runtime.sandboxId!;
    expect(second).not.toBe(first);
    const recall = mock.requests.slice(requests).find((request) => request.matched === "recall");
    // Native resume: the agent sent its earlier conversation along, from the transcript restored into the new sandbox.
    expect(JSON.stringify(recall?.messages)).toContain("Create notes.txt");
    expect(Buffer.from(await session.readFile("notes.txt")).toString()).toBe("remember the milk\n");
    recorder.stop();
  });

  it("says so when the lifetime ends during a turn that outlasts it, and the next message goes on", {
    timeout: 120_000,
  }, async () => {
    // 8 s: the story (about 10 s of streaming) is still running when Modal stops the sandbox.
    runtime = modalRuntime({ containers, dataDir, modelUrl: mock.url, modal: { timeoutMs: 8_000 } });
    await runtime.start();
    const session = await runtime.sessions.create({ agentProfileRef: "test" });
    const recorder = recordEvents(session);
    const end = await recorder.turn("Tell me a long story");
    expect(end.stopReason).toBe("error");
    const errors = session.snapshot().blocks.flatMap((block) => (block.type === "error" ? [block] : []));
    expect(errors).toEqual([
      expect.objectContaining({ code: "SANDBOX_FAILED", message: expect.stringMatching(/maximum lifetime/) }),
    ]);
    expect([...api.sandboxes.values()].some((sandbox) => sandbox.stoppedBy === "lifetime")).toBe(true);
    expect((await recorder.turn("What did I ask you before?")).stopReason).toBe("end_turn");
    recorder.stop();
  });
});
