import { describe, it } from "vitest";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { runSandboxProviderContract } from "../../src/sandboxes/sandbox-contract.js";

/*
 * The shared sandbox contract against real Modal. It needs a Modal account:
 * with MODAL_TOKEN_ID and MODAL_TOKEN_SECRET set it creates real sandboxes
 * (in the App `agent-runtime-test`, or MODAL_APP_NAME) and terminates them;
 * otherwise it is reported as skipped, saying why. The first run builds the
 * image, which takes minutes. The contract exercises sandboxes, not the
 * runner, so the image leaves it out unless MODAL_RUNNER_PACKAGE names an
 * installable runner (registry spec or tarball URL).
 */
const tokenId = process.env.MODAL_TOKEN_ID;
const tokenSecret = process.env.MODAL_TOKEN_SECRET;

if (tokenId && tokenSecret) {
  runSandboxProviderContract({
    name: "modal (live)",
    createProvider: () =>
      createModalSandboxProvider({
        tokenId,
        tokenSecret,
        appName: process.env.MODAL_APP_NAME ?? "agent-runtime-test",
        image: { runnerPackage: process.env.MODAL_RUNNER_PACKAGE ?? null },
        timeoutMs: 10 * 60 * 1000,
        idleTimeoutMs: 5 * 60 * 1000,
      }),
  });
} else {
  describe("modal (live)", () => {
    it.skip("skipped: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET to run the sandbox contract against real Modal", () => {});
  });
}
