import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AgentRuntime, createAgentRuntime } from "../../src/core/agent-runtime.js";
import { createMemoryPersistenceAdapter } from "../../src/persistence/memory/memory-persistence-adapter.js";
import { MODAL_EGRESS_REFUSAL } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { fakeModalProvider } from "./modal-fake-client.js";

/*
 * The runtime with the Modal provider and its default restricted egress: the
 * first message's sandbox is refused, visibly, instead of the model key
 * going into the sandbox's environment (the fallback this replaces).
 */
const KEY = "sk-canary-modal-egress-0123456789";

describe("the runtime on Modal with restricted egress", () => {
  let runtime: AgentRuntime | undefined;
  afterEach(async () => {
    await runtime?.shutdown();
  });

  it("fails the turn with the refusal, and the key never reaches Modal", async () => {
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
    expect(JSON.stringify(events)).toContain(MODAL_EGRESS_REFUSAL.slice(0, 60));
    expect(modal.createRequests).toEqual([]);
    expect(JSON.stringify(modal.execCalls)).not.toContain(KEY);
  });
});
