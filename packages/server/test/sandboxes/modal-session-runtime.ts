import { join } from "node:path";
import type { SessionEvent } from "@agent-runtime/protocol";
import { pino } from "pino";
import type { AgentRuntime } from "../../src/core/agent-runtime.js";
import type { AgentSession } from "../../src/core/agent-session.js";
import { createAgentRuntime, createSqlitePersistenceAdapter } from "../../src/index.js";
import type { ModalSandboxOptions } from "../../src/sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import type { FakeModalContainers } from "./modal-fake-containers.js";

/*
 * A runtime ("server") on the Modal provider with the real SDK against the
 * fake Modal API's containers, the real Claude Code against the mock model,
 * SQLite in `dataDir`. Egress is open unless `egress` says otherwise (a
 * restricted sandbox needs the model at a host name, see
 * docs/sandboxes/modal.md). Several may share one `dataDir` one after the
 * other: a restarted server.
 */

export const MODAL_TOKENS = { tokenId: "ak-runtime", tokenSecret: "as-runtime" };

export function modalRuntime(options: {
  /** Where the fake's containers have workspace and home (see `FakeModalContainers`). */
  readonly containers: Pick<FakeModalContainers, "workspaceDir" | "homeDir">;
  readonly dataDir: string;
  readonly modelUrl: string;
  readonly modal?: ModalSandboxOptions;
  readonly egress?: "open" | "restricted";
}): AgentRuntime {
  const { containers, dataDir, modelUrl } = options;
  return createAgentRuntime({
    persistence: createSqlitePersistenceAdapter({ filename: join(dataDir, "agent-runtime.sqlite") }),
    sandbox: createModalSandboxProvider({
      ...MODAL_TOKENS,
      appName: "runtime-test",
      workspaceDir: containers.workspaceDir,
      homeDir: containers.homeDir,
      ...options.modal,
    }),
    agents: [{ id: "test", name: "Test agent", systemPrompt: "You are the test agent." }],
    model: { baseUrl: modelUrl, apiKey: "test-model-key" },
    egress: options.egress ?? "open",
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" }),
    idleTimeoutMs: 0,
    syncIntervalMs: 500,
  });
}

/** Every event of `session` from now on, and a way to wait for one. */
export function recordEvents(session: AgentSession) {
  const events: SessionEvent[] = [];
  const waiters = new Set<() => void>();
  const stop = session.subscribe((event) => {
    events.push(event);
    for (const waiter of waiters) waiter();
  });
  const waitFor = <T extends SessionEvent>(
    what: string,
    found: (event: SessionEvent) => event is T,
    timeoutMs = 60_000,
  ): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const event = events.find(found);
        if (!event) return;
        cleanUp();
        resolve(event);
      };
      const timer = setTimeout(() => {
        cleanUp();
        reject(
          new Error(`no ${what} within ${timeoutMs} ms; events: ${events.map((e) => e.type).join(", ")}`),
        );
      }, timeoutMs);
      const cleanUp = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  /** Sends `content` and resolves with its turn's completion. */
  const turn = async (content: string) => {
    const { turnId } = session.sendMessage(content);
    return waitFor(
      `end of the turn "${content}"`,
      (event): event is Extract<SessionEvent, { type: "session:turn:completed" }> =>
        event.type === "session:turn:completed" && event.turnId === turnId,
    );
  };
  return { events, waitFor, turn, stop };
}
