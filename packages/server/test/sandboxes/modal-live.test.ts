import { describe, expect, it } from "vitest";
import { runModalDoctor } from "../../src/cli/modal-doctor.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { runSandboxProviderContract } from "../../src/sandboxes/sandbox-contract.js";

/*
 * Against real Modal. It needs a Modal account: with MODAL_TOKEN_ID and
 * MODAL_TOKEN_SECRET set it creates real sandboxes (in the App
 * `agent-runtime-test`, or MODAL_APP_NAME) and terminates them; otherwise it
 * is reported as skipped, saying why. The first run builds the image, which
 * takes minutes. The shared sandbox contract runs first; with
 * ANTHROPIC_API_KEY set too, the doctor then runs one real agent turn in a
 * sandbox built from the runner bundle (`npm run build` first).
 */
const tokenId = process.env.MODAL_TOKEN_ID;
const tokenSecret = process.env.MODAL_TOKEN_SECRET;
const appName = process.env.MODAL_APP_NAME ?? "agent-runtime-test";

if (tokenId && tokenSecret) {
  runSandboxProviderContract({
    name: "modal (live)",
    createProvider: () =>
      createModalSandboxProvider({
        tokenId,
        tokenSecret,
        appName,
        timeoutMs: 10 * 60 * 1000,
        idleTimeoutMs: 5 * 60 * 1000,
      }),
  });
  describe.skipIf(!process.env.ANTHROPIC_API_KEY)("modal (live): doctor", () => {
    it("builds the image, uploads the runner and runs one agent turn", {
      timeout: 30 * 60 * 1000,
    }, async () => {
      const lines: string[] = [];
      const ok = await runModalDoctor({
        modal: { tokenId, tokenSecret, appName, timeoutMs: 10 * 60 * 1000 },
        model: {
          apiKey: process.env.ANTHROPIC_API_KEY,
          ...(process.env.ANTHROPIC_BASE_URL ? { baseUrl: process.env.ANTHROPIC_BASE_URL } : {}),
        },
        write: (line) => lines.push(line),
      });
      expect(ok, lines.join("\n")).toBe(true);
    });
  });
} else {
  describe("modal (live)", () => {
    it.skip("skipped: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET to run the sandbox contract against real Modal", () => {});
  });
}
