import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AgentRuntime, createAgentRuntime } from "../../src/core/agent-runtime.js";
import { PLACEHOLDER_API_KEY } from "../../src/core/model-egress.js";
import { createMemoryPersistenceAdapter } from "../../src/persistence/memory/memory-persistence-adapter.js";
import { fakeModalProvider } from "./modal-fake-client.js";
import { type FakeModalContainers, fakeModalContainers } from "./modal-fake-containers.js";
import type { FakeModalApi } from "./modal-grpc-fake.js";
import { MODAL_TOKENS, modalRuntime, recordEvents } from "./modal-session-runtime.js";

/*
 * The runtime on Modal with its default restricted egress: a real Claude
 * Code turn whose model requests leave the sandbox through the key proxy
 * with the real key, while the agent holds a placeholder (the real SDK
 * against the fake Modal API's containers; needs root and `npm run build`);
 * and, where no key proxy can run, the first message fails visibly instead
 * of the key going into the sandbox's environment.
 */
const KEY = "sk-canary-modal-egress-0123456789";
const isRoot = process.getuid?.() === 0;

describe("the runtime on Modal with restricted egress", () => {
  let runtime: AgentRuntime | undefined;
  afterEach(async () => {
    await runtime?.shutdown();
    runtime = undefined;
  });

  it("fails the turn saying why when the runner bundle has no key proxy, and the key never reaches Modal", async () => {
    const { modal, provider } = fakeModalProvider({ runnerBundle: null });
    runtime = createAgentRuntime({
      persistence: createMemoryPersistenceAdapter(),
      sandbox: provider,
      agents: [{ id: "p", name: "Profile" }],
      model: { baseUrl: "https://api.anthropic.com", apiKey: KEY },
      logger: pino({ level: "silent" }),
    });
    await runtime.start();
    const session = await runtime.sessions.create({ agentProfileRef: "p" });
    const events: unknown[] = [];
    session.subscribe((event) => events.push(event));
    session.sendMessage("hello");
    await vi.waitFor(() => expect(JSON.stringify(events)).toContain("--egress open"), { timeout: 15_000 });
    expect(JSON.stringify(events)).toContain("key proxy");
    expect(modal.createRequests).toEqual([]);
    expect(JSON.stringify(modal.execCalls)).not.toContain(KEY);
  });

  describe.skipIf(!isRoot)("with the key proxy", () => {
    let containers: FakeModalContainers;
    let api: FakeModalApi;
    let mock: MockModel;
    let front: Server;
    let dataDir: string;
    /** The key each request to the model arrived with, and its path. */
    const arrived: { path: string; key: string | undefined }[] = [];

    beforeAll(async () => {
      mock = await startMockModel({
        script: {
          rules: [{ name: "hello", match: { prompt: "Say hello" }, reply: "Hello from the model." }],
        },
      });
      const target = new URL(mock.url);
      // In front of the mock model: records the key of each request, then forwards it.
      front = createServer((req, res) => {
        arrived.push({ path: req.url ?? "", key: req.headers["x-api-key"] as string | undefined });
        const forward = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (response) => {
            res.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(res);
          },
        );
        forward.on("error", () => res.destroy());
        req.pipe(forward);
      });
      await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
      containers = await fakeModalContainers({ hosts: "127.0.0.1\tlocalhost\n127.0.0.1\tmodel.test\n" });
      api = await containers.start(MODAL_TOKENS);
      dataDir = await mkdtemp(join(tmpdir(), "modal-runtime-egress-"));
    });
    afterAll(async () => {
      await containers?.close();
      await new Promise((resolve) => front?.close(resolve));
      await mock?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it("runs a turn whose model requests carry the real key, which the sandbox never holds", async () => {
      const port = (front.address() as AddressInfo).port;
      runtime = modalRuntime({
        containers,
        dataDir,
        modelUrl: `http://model.test:${port}`,
        egress: "restricted",
        modal: { appName: "runtime-egress-test" },
      });
      await runtime.start();
      const session = await runtime.sessions.create({ agentProfileRef: "test" });
      const { turn, events } = recordEvents(session);
      const done = await turn("Say hello");
      expect(done.stopReason, JSON.stringify(events)).toBe("end_turn");
      expect(JSON.stringify(events)).toContain("Hello from the model.");
      const messages = arrived.filter((request) => request.path.startsWith("/v1/messages"));
      expect(messages.length).toBeGreaterThan(0);
      expect(new Set(messages.map((request) => request.key))).toEqual(new Set(["test-model-key"]));
      expect(JSON.stringify(arrived)).not.toContain(PLACEHOLDER_API_KEY);
      // Neither the sandbox's creation nor any command carried the key (stdin is recorded by length).
      expect(JSON.stringify(api.calls)).not.toContain("test-model-key");
    }, 180_000);
  });
});
