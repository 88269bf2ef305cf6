import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { type FakeModalContainers, fakeModalContainers } from "./modal-fake-containers.js";
import type { FakeModalApi } from "./modal-grpc-fake.js";

/*
 * The model key on Modal with restricted egress: the provider starts the
 * key proxy (from the built runner bundle) as root in the sandbox, the key
 * on its stdin; the agent's requests to the model's name reach it through
 * `/etc/hosts` and leave with the key, on the model API paths only. The
 * agent's uid can neither read the proxy's environment or memory nor trace
 * it, and a server taking the sandbox over kills the proxy (and any other
 * command) the first one left running as root. The real SDK against the
 * fake Modal API, whose containers run on this machine. Needs root and
 * `npm run build` (the runner bundle with `key-proxy.mjs`).
 */
const isRoot = process.getuid?.() === 0;
const TOKENS = { tokenId: "ak-key-proxy", tokenSecret: "as-key-proxy" };
const KEY = "sk-canary-modal-key-proxy-4242";
const MODEL_HOST = "model.test";

/** The key proxy processes of a sandbox on this machine (`node …/key-proxy.mjs serve`), by pid. */
function proxyPids(sandboxId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (
        cmdline.some((arg) => arg.endsWith("/key-proxy.mjs")) &&
        cmdline.includes("serve") &&
        environ.includes(`AGENT_RUNTIME_MODAL_SANDBOX=${sandboxId}`)
      ) {
        pids.push(Number(entry));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Runs `argv` as the agent in `sandbox`; resolves with its exit code and output. */
async function asAgent(sandbox: Sandbox, argv: string[]) {
  const process = sandbox.exec(argv);
  process.stdin.end();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  process.stdout.on("data", (chunk: Buffer) => out.push(chunk));
  process.stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const { code } = await process.exited;
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

describe.skipIf(!isRoot)("Modal: the model key proxy", () => {
  let containers: FakeModalContainers;
  let api: FakeModalApi;
  let upstream: Server;
  let port: number;
  const seen: { path: string; key: string | undefined }[] = [];

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      seen.push({ path: req.url ?? "", key: req.headers["x-api-key"] as string | undefined });
      req.resume();
      req.on("end", () => res.end(JSON.stringify({ path: req.url, key: req.headers["x-api-key"] ?? null })));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    port = (upstream.address() as AddressInfo).port;
    // The model's name, as the image resolves it (on Modal: DNS).
    containers = await fakeModalContainers({ hosts: `127.0.0.1\tlocalhost\n127.0.0.1\t${MODEL_HOST}\n` });
    api = await containers.start(TOKENS);
  });
  afterAll(async () => {
    await containers?.close();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const provider = (): SandboxProvider =>
    createModalSandboxProvider({
      ...TOKENS,
      appName: "key-proxy-test",
      workspaceDir: containers.workspaceDir,
      homeDir: containers.homeDir,
    });
  const network = () => ({
    allow: [`${MODEL_HOST}:${port}`],
    secrets: [
      {
        endpoint: `${MODEL_HOST}:${port}`,
        header: "x-api-key",
        value: KEY,
        paths: ["POST /v1/messages"],
      },
    ],
  });

  it("adds the key to the agent's model requests only, and the agent can neither read nor trace the proxy", async () => {
    const sandbox = await provider().create({ name: "key-proxy-1", network: network() });
    try {
      const modelUrl = `http://${MODEL_HOST}:${port}`;
      const call = await asAgent(sandbox, [
        "curl",
        "-sS",
        "-X",
        "POST",
        "-H",
        "x-api-key: sk-agent-runtime-placeholder",
        "--data",
        "{}",
        `${modelUrl}/v1/messages`,
      ]);
      expect(call).toMatchObject({ code: 0 });
      expect(JSON.parse(call.stdout)).toEqual({ path: "/v1/messages", key: KEY });

      const other = await asAgent(sandbox, [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `${modelUrl}/v1/files`,
      ]);
      expect(other.stdout).toBe("403");
      expect(seen.map((request) => request.path)).toEqual(["/v1/messages"]);

      // The key went to Modal on the proxy's stdin only: in no request the fake recorded (stdin writes are recorded by length).
      expect(JSON.stringify(api.calls)).not.toContain(KEY);
      const env = await asAgent(sandbox, ["sh", "-c", "env; cat /etc/hosts"]);
      expect(env.stdout).not.toContain(KEY);
      expect(env.stdout).toContain(MODEL_HOST);

      const [pid] = proxyPids(sandbox.id);
      expect(pid).toBeDefined();
      expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(KEY);
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+0\s/m);
      for (const argv of [
        ["cat", `/proc/${pid}/environ`],
        ["dd", `if=/proc/${pid}/mem`, "bs=1", "count=1", "skip=4096", "status=none"],
        ["strace", "-p", String(pid), "-e", "trace=none", "-o", "/dev/null"],
      ]) {
        const attempt = await asAgent(sandbox, argv);
        expect({ argv, code: attempt.code }).not.toMatchObject({ code: 0 });
        expect(attempt.stderr).toMatch(/Permission denied|Operation not permitted/);
        expect(attempt.stdout).not.toContain(KEY);
      }
      expect(proxyPids(sandbox.id)).toEqual([pid]);
    } finally {
      await sandbox.terminate();
    }
    // Killed with the sandbox (a killed process stays listed until it has died).
    await vi.waitFor(() => expect(proxyPids(sandbox.id)).toEqual([]), { timeout: 5000 });
  }, 120_000);

  it("a server taking the sandbox over kills what the first left running as root, and starts its own proxy", async () => {
    const first = await provider().create({ name: "key-proxy-2", network: network() });
    const [leftOver] = proxyPids(first.id);
    expect(leftOver).toBeDefined();
    // The first server is gone without terminating its sandbox; a new one takes it over.
    const second = await provider().create({ name: "key-proxy-2", network: network() });
    try {
      expect(second.id).toBe(first.id);
      await vi.waitFor(() => expect(proxyPids(second.id)).not.toContain(leftOver), { timeout: 5000 });
      expect(proxyPids(second.id)).toHaveLength(1);
      const call = await asAgent(second, [
        "curl",
        "-sS",
        "-X",
        "POST",
        "--data",
        "{}",
        `http://${MODEL_HOST}:${port}/v1/messages`,
      ]);
      expect(JSON.parse(call.stdout)).toEqual({ path: "/v1/messages", key: KEY });
    } finally {
      await second.terminate();
    }
  }, 120_000);
});
