import { randomUUID } from "node:crypto";
import { text } from "node:stream/consumers";
import { afterAll, describe, expect, it } from "vitest";
import { runModalDoctor } from "../../src/cli/modal-doctor.js";
import { createModalClient, type ModalClientFactory } from "../../src/sandboxes/modal/modal-client.js";
import type { ModalSandboxOptions } from "../../src/sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import { runSandboxProviderContract } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox } from "../../src/sandboxes/sandbox-provider.js";

/*
 * Against real Modal. It needs a Modal account: with MODAL_TOKEN_ID and
 * MODAL_TOKEN_SECRET set it creates real sandboxes (in the App
 * `agent-runtime-test`, or MODAL_APP_NAME) and terminates them; otherwise it
 * is reported as skipped, saying why. The first run builds the image, which
 * takes minutes (`npm run build` first: the runner bundle is uploaded). The
 * shared sandbox contract runs first; then taking over a sandbox another
 * server process left running, and egress: what `create` refuses, the key
 * proxy, and what Modal's own controls enforce; with ANTHROPIC_API_KEY set too, the doctor
 * runs one real agent turn.
 */
const tokenId = process.env.MODAL_TOKEN_ID;
const tokenSecret = process.env.MODAL_TOKEN_SECRET;
const appName = process.env.MODAL_APP_NAME ?? "agent-runtime-test";
const TEN_MINUTES = 10 * 60 * 1000;
/** Creating a sandbox may build the image first. */
const LIVE_TIMEOUT = 30 * 60 * 1000;

if (tokenId && tokenSecret) {
  const live = (options: ModalSandboxOptions = {}) =>
    createModalSandboxProvider({
      tokenId,
      tokenSecret,
      appName,
      timeoutMs: TEN_MINUTES,
      idleTimeoutMs: 5 * 60 * 1000,
      ...options,
    });
  /** Runs `script` with `sh -c` in the sandbox; resolves with its exit code and output. */
  const run = async (sandbox: Sandbox, script: string) => {
    const child = sandbox.exec(["sh", "-c", script]);
    child.stdin.end();
    const [stdout, stderr, status] = await Promise.all([
      text(child.stdout),
      text(child.stderr),
      child.exited,
    ]);
    return { code: status.code, stdout, stderr };
  };
  /** Node's fetch of `url` inside the sandbox: "ok <status>" or "failed <reason>". */
  const fetchFrom = async (sandbox: Sandbox, url: string) =>
    (
      await run(
        sandbox,
        `node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(15000) }).then((r) => console.log("ok", r.status), (e) => console.log("failed", e.cause?.code ?? e.name))' ${JSON.stringify(url)}`,
      )
    ).stdout.trim();
  const names: string[] = [];
  const nameFor = (what: string) => {
    const name = `live-${what}-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  };
  afterAll(async () => {
    const provider = live();
    for (const name of names) await provider.remove(name).catch(() => undefined);
  });

  runSandboxProviderContract({ name: "modal (live)", createProvider: () => live() });

  describe("modal (live): taking over after a server crash", () => {
    it("a second server process finds the session's sandbox by name and takes it over, files kept, old commands stopped", {
      timeout: LIVE_TIMEOUT,
    }, async () => {
      const name = nameFor("reattach");
      const first = await live().create({ name });
      await first.writeFiles([{ path: `${first.workspaceDir}/kept.txt`, content: "kept" }]);
      // Stands for the crashed server's runner: a command that would run on.
      const left = first.exec(["sh", "-c", "echo started; exec sleep 600"]);
      left.stdin.end();
      const leftExit = left.exited;

      const restarted = live();
      const taken = await restarted.create({ name });
      expect(taken.id).toBe(first.id);
      expect(taken.expiresAt).toBe(first.expiresAt);
      expect(Buffer.from(await taken.readFile(`${taken.workspaceDir}/kept.txt`)).toString()).toBe("kept");
      expect((await leftExit).code).not.toBe(0);
      // No `sleep` runs any more (read from /proc: slim images have no procps).
      expect((await run(taken, "grep -lx sleep /proc/[0-9]*/comm 2>/dev/null; true")).stdout.trim()).toBe("");
      await restarted.remove(name);
      await taken.terminated;
    });
  });

  describe("modal (live): egress", () => {
    it("refuses a policy it cannot keep (a loopback model) before any call to Modal: the key reaches neither Modal nor a sandbox", async () => {
      let creates = 0;
      const counting: ModalClientFactory = (credentials) => {
        const seam = createModalClient(credentials);
        return {
          ...seam,
          createSandbox: (request) => {
            creates++;
            return seam.createSandbox(request);
          },
        };
      };
      const provider = live({ createClient: counting });
      const error = await provider
        .create({
          name: nameFor("refused"),
          network: {
            allow: ["127.0.0.1:4100"],
            secrets: [{ endpoint: "127.0.0.1:4100", header: "x-api-key", value: "sk-live-canary" }],
          },
        })
        .then(
          () => undefined,
          (reason: unknown) => reason,
        );
      expect(error).toMatchObject({ code: "SANDBOX_FAILED", message: expect.stringContaining("loopback") });
      expect(String((error as Error).message)).not.toContain("sk-live-canary");
      expect(creates).toBe(0);
    });

    it("a policy with a key: the agent reaches the endpoint through the key proxy, holds no key, and reaches no other domain", {
      timeout: LIVE_TIMEOUT,
    }, async () => {
      const sandbox = await live().create({
        name: nameFor("key-proxy"),
        network: {
          allow: ["example.com:443"],
          secrets: [
            {
              endpoint: "example.com:443",
              header: "x-canary",
              value: "sk-live-canary",
              tls: true,
              paths: ["/"],
            },
          ],
        },
      });
      // Plain HTTP at the endpoint's own port, as the runtime points the agent at its model.
      expect(await fetchFrom(sandbox, "http://example.com:443/")).toMatch(/^ok /);
      expect(await fetchFrom(sandbox, "https://www.wikipedia.org/")).toMatch(/^failed/);
      expect((await run(sandbox, "env; cat /etc/hosts")).stdout).not.toContain("sk-live-canary");
      await sandbox.terminate();
    });

    it("a policy that allows nothing cuts the sandbox off the network", {
      timeout: LIVE_TIMEOUT,
    }, async () => {
      const sandbox = await live().create({ name: nameFor("blocked"), network: { allow: [] } });
      expect(await fetchFrom(sandbox, "https://example.com/")).toMatch(/^failed/);
      await sandbox.terminate();
    });

    it("the provider's domain allow-list admits the listed domain only", {
      timeout: LIVE_TIMEOUT,
    }, async () => {
      const sandbox = await live({ network: { allowDomains: ["example.com"] } }).create({
        name: nameFor("allow-list"),
      });
      expect(await fetchFrom(sandbox, "https://example.com/")).toMatch(/^ok /);
      expect(await fetchFrom(sandbox, "https://www.wikipedia.org/")).toMatch(/^failed/);
      await sandbox.terminate();
    });
  });

  describe.skipIf(!process.env.ANTHROPIC_API_KEY)("modal (live): doctor", () => {
    it("builds the image, uploads the runner and runs one agent turn", {
      timeout: LIVE_TIMEOUT,
    }, async () => {
      const lines: string[] = [];
      const ok = await runModalDoctor({
        modal: { tokenId, tokenSecret, appName, timeoutMs: TEN_MINUTES },
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
    it.skip("skipped: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET to run the sandbox contract, take-over and egress against real Modal", () => {});
  });
}
