import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../persistence/memory/memory-persistence-adapter.js";
import { createFakeSandboxProvider } from "../testing/fake-sandbox-provider.js";
import { createAgentRuntime } from "./agent-runtime.js";

/**
 * Issue 15 (found by the hostile-client fuzzer): a message sent while its
 * session is being deleted was answered 503 SHUTTING_DOWN, as if the server
 * were stopping. A session being deleted is a missing one.
 */
describe("SessionManager while a session is being deleted", () => {
  it("answers SESSION_NOT_FOUND for it, and serves it again when the deletion fails", async () => {
    const persistence = createMemoryPersistenceAdapter();
    let failDelete = false;
    const runtime = createAgentRuntime({
      persistence: {
        ...persistence,
        async deleteSession(sessionId) {
          if (failDelete) throw new Error("disk gone");
          await persistence.deleteSession(sessionId);
        },
      },
      sandbox: createFakeSandboxProvider(),
      agents: [{ id: "p", name: "Profile" }],
      logger: pino({ level: "silent" }),
    });
    await runtime.start();

    const doomed = await runtime.sessions.create({ agentProfileRef: "p" });
    const destroying = runtime.sessions.destroy(doomed.id);
    await expect(runtime.sessions.get(doomed.id)).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
    await destroying;
    await expect(runtime.sessions.get(doomed.id)).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });

    const kept = await runtime.sessions.create({ agentProfileRef: "p" });
    failDelete = true;
    await expect(runtime.sessions.destroy(kept.id)).rejects.toBeDefined();
    await expect(runtime.sessions.get(kept.id)).resolves.toBeDefined();
    await runtime.shutdown();
  });
});
