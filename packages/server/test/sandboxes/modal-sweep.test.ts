import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { sandboxNameFor } from "../../src/core/agent-launch.js";
import type { AgentRuntime } from "../../src/core/agent-runtime.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { type FakeModalApi, startFakeModalApi } from "./modal-grpc-fake.js";
import { MODAL_TOKENS, modalRuntime } from "./modal-session-runtime.js";

/*
 * The start-up sweep on Modal: a server starting on its data terminates the
 * sandboxes in its App whose session storage does not have (deleted, or
 * never known), and leaves those of its sessions (for take-over) and any
 * sandbox that is not a session's. The real SDK against the fake Modal API
 * (listing by tags, page by page); no command runs.
 */
const APP = "sweep-test";
const FOLDERS = { workspaceDir: "/workspace", homeDir: "/home/agent" };

describe("Modal: the start-up sweep", () => {
  let api: FakeModalApi;
  let dataDir: string;
  let runtime: AgentRuntime | undefined;
  const savedUrl = process.env.MODAL_SERVER_URL;

  beforeAll(async () => {
    api = await startFakeModalApi(MODAL_TOKENS);
    process.env.MODAL_SERVER_URL = api.url;
    dataDir = await mkdtemp(join(tmpdir(), "modal-sweep-"));
  });
  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
  });
  afterAll(async () => {
    await api?.close();
    if (savedUrl === undefined) delete process.env.MODAL_SERVER_URL;
    else process.env.MODAL_SERVER_URL = savedUrl;
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const server = () =>
    modalRuntime({
      containers: FOLDERS,
      dataDir,
      modelUrl: "https://model.example.com",
      modal: { appName: APP, runnerBundle: null },
    });
  const running = (name: string) =>
    [...api.sandboxes.values()].filter((sandbox) => sandbox.name === name && !sandbox.result);

  it("terminates the sandboxes of sessions that are gone, and keeps the others", async () => {
    runtime = server();
    await runtime.start();
    const kept = await runtime.sessions.create({ agentProfileRef: "test" });
    const deleted = await runtime.sessions.create({ agentProfileRef: "test" });
    // Sandboxes a crashed server left running: its sessions', one of a session never stored here, one that is no session's.
    const provider = createModalSandboxProvider({
      ...MODAL_TOKENS,
      appName: APP,
      runnerBundle: null,
      ...FOLDERS,
    });
    for (const name of [
      sandboxNameFor(kept.id),
      sandboxNameFor(deleted.id),
      sandboxNameFor("00000000-0000-4000-8000-000000000000"),
      "warm-1",
    ]) {
      await provider.create({ name });
    }
    await runtime.sessions.destroy(deleted.id);
    await runtime.shutdown();
    // The deletion terminated its sandbox already; make it as if the server had crashed first.
    await provider.create({ name: sandboxNameFor(deleted.id) });

    runtime = server();
    await runtime.start();
    await vi.waitFor(
      () => {
        expect(running(sandboxNameFor(deleted.id))).toEqual([]);
        expect(running(sandboxNameFor("00000000-0000-4000-8000-000000000000"))).toEqual([]);
      },
      { timeout: 15_000 },
    );
    expect(running(sandboxNameFor(kept.id))).toHaveLength(1);
    expect(running("warm-1")).toHaveLength(1);
    // Listed by the provider's tag, within its App.
    const listing = api.calls.filter((call) => call.method === "SandboxListV2");
    expect(listing.length).toBeGreaterThan(1);
    expect(listing[0]!.request).toMatchObject({ tags: [{ tagName: "agent-runtime", tagValue: "session" }] });
  }, 60_000);
});
