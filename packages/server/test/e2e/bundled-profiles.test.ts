import { fileURLToPath } from "node:url";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * The profiles shipped in `profiles/` (`assistant`, `coder`) run on Codex and
 * Gemini CLI as they do on Claude Code and OpenCode: through the HTTP API,
 * the first profile the server lists (the one the Studio's create form
 * picks), a real bubblewrap sandbox and the demo model, as a fresh clone
 * runs without a key. Their tools are the profiles' own, mapped to each
 * agent's (`docs/profiles/tools.md`).
 */
const PROFILES_DIR = fileURLToPath(new URL("../../../../profiles", import.meta.url));

const completedBlocks = (events: readonly SessionEvent[]): Block[] =>
  events.flatMap((event) => (event.type === "session:block:complete" ? [event.block] : []));

describe("bundled profiles on Codex and Gemini CLI (demo model, real sandboxes)", () => {
  let mock: MockModel;
  let server: TestServer;

  beforeAll(async () => {
    mock = await startMockModel({ demo: true });
    server = await startTestServer({ mock, agents: [], runtime: { profileDirs: [PROFILES_DIR] } });
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
    await mock?.close();
  });

  it("lists the bundled profiles, the Studio's default first", async () => {
    const response = await fetch(`${server.url}/agent-profiles`);
    const { profiles } = (await response.json()) as { profiles: { id: string }[] };
    expect(profiles.map((profile) => profile.id)).toEqual(["assistant", "coder"]);
  });

  it.concurrent.each([
    ["codex", "assistant"],
    ["gemini", "assistant"],
    ["codex", "coder"],
    ["gemini", "coder"],
  ] as const)(
    "%s with the %s profile streams a demo-model turn that writes a file",
    async (architecture, profile) => {
      const rest = restClient(server.url);
      const created = await rest.post("/sessions", { agentProfileRef: profile, architecture });
      expect(created.status, await created.clone().text()).toBe(201);
      const id = ((await created.json()) as { sessionId: string }).sessionId;
      const recorder = new SocketRecorder(server.url);
      try {
        await recorder.join(id, 0);
        expect((await rest.send(id, "Please create a file")).status).toBe(202);
        await recorder.waitForTurns(1, 180_000);
        const blocks = completedBlocks(recorder.events);
        expect(blocks.filter((block) => block.type === "error")).toEqual([]);
        expect(recorder.events.some((event) => event.type === "session:block:delta")).toBe(true);
        const text = blocks
          .flatMap((block) => (block.type === "assistant_text" ? [block.content] : []))
          .join("");
        expect(text).toContain("I created `hello.txt`");
        const file = await fetch(`${server.url}/sessions/${id}/files/hello.txt`);
        expect(await file.text()).toBe("Hello from the Agent Runtime demo model!\n");
      } finally {
        recorder.close();
        await rest.post(`/sessions/${id}/stop`, {});
      }
    },
  );
});
