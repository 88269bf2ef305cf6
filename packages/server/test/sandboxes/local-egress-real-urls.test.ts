import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { gitRefsHandler, makeGitRepository } from "../support/git-http-refs.js";
import { packPackage, registryHandler } from "../support/npm-registry-stand-in.js";
import {
  listenHttps,
  makeTestTls,
  randomLoopbackAddress,
  resolveOnThisHost,
  trustEnv,
} from "../support/test-tls-hosts.js";

/**
 * Allowed endpoints are reachable from inside a real sandbox at their real
 * URLs: host name and port 443, TLS end to end (the proxy tunnels bytes; the
 * certificate the client checks is the server's own), for curl, Node's
 * `fetch`, git and npm. One HTTPS server on a loopback address of the host,
 * port 443, answers for several host names; the host resolves them to it
 * (`resolveOnThisHost`), and a sandbox reaches only the names its policy
 * allows.
 */
const testRoot = await mkdtemp(join(tmpdir(), "egress-urls-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const DENY_WITHIN_MS = 5000;
const NAMES = {
  web: "web.egress.test",
  git: "git.egress.test",
  registry: "packages.egress.test",
} as const;
const PACKAGE = "egress-probe";

describe("allowed endpoints at their real URLs", () => {
  let provider: SandboxProvider;
  let server: Server;
  let commit: string;
  let undoResolve: () => void;
  let caPem: string;
  /** The host address the HTTPS server listens on. */
  let address: string;
  /** Host name and path of every request the HTTPS server received. */
  const seen: string[] = [];
  const created: Sandbox[] = [];

  const create = async (allow: readonly string[]) => {
    const sandbox = await provider.create({
      name: `urls-${randomUUID().slice(0, 8)}`,
      network: { allow: allow.map((name) => `${name}:443`) },
      env: trustEnv("/home/agent/test-ca.pem"),
    });
    created.push(sandbox);
    await sandbox.writeFiles([
      { path: `${sandbox.homeDir}/test-ca.pem`, content: new TextEncoder().encode(caPem) },
    ]);
    return sandbox;
  };
  const sh = (sandbox: Sandbox, script: string) => runInSandbox(sandbox, ["bash", "-c", script]);

  beforeAll(async () => {
    const tls = await makeTestTls(Object.values(NAMES));
    caPem = tls.caPem;
    commit = await makeGitRepository(join(testRoot, "repo"));
    const git = gitRefsHandler("/repo.git", join(testRoot, "repo"));
    const registry = registryHandler(
      `https://${NAMES.registry}`,
      await packPackage(join(testRoot, "packages"), PACKAGE, "installed through the egress proxy"),
    );
    address = randomLoopbackAddress();
    server = await listenHttps(address, tls, (req, res) => {
      const host = req.headers.host ?? "";
      seen.push(`${host}${req.url}`);
      if (host === NAMES.git) git(req, res);
      else if (host === NAMES.registry) registry(req, res);
      else res.end(`hello from ${host}\n`);
    });
    undoResolve = resolveOnThisHost(Object.values(NAMES), address);
    provider = createLocalSandboxProvider({ rootDir: join(testRoot, "sandboxes") });
    await provider.check();
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => sandbox.terminate()));
  });
  afterAll(async () => {
    undoResolve?.();
    server?.close();
    await rm(testRoot, { recursive: true, force: true });
  });

  it("curl, Node's fetch and git ls-remote reach them over TLS at https://<name>/", async () => {
    const sandbox = await create([NAMES.web, NAMES.git]);
    expect(await sh(sandbox, `curl -sS --max-time 10 https://${NAMES.web}/`)).toMatchObject({
      code: 0,
      stdout: `hello from ${NAMES.web}\n`,
    });
    const viaFetch = await runInSandbox(sandbox, [
      "node",
      "-e",
      `fetch("https://${NAMES.web}/").then((r) => r.text()).then((t) => process.stdout.write(t))`,
    ]);
    expect(viaFetch).toMatchObject({ code: 0, stdout: `hello from ${NAMES.web}\n` });
    const viaGit = await sh(sandbox, `timeout 20 git ls-remote https://${NAMES.git}/repo.git`);
    expect(viaGit.stderr).toBe("");
    expect(viaGit.stdout).toContain(`${commit}\trefs/heads/main`);
  });

  it("npm installs a package from an allowed registry", async () => {
    const sandbox = await create([NAMES.registry]);
    const installed = await sh(
      sandbox,
      `cd ${sandbox.workspaceDir} && timeout 30 npm install ${PACKAGE} --registry https://${NAMES.registry}/ ` +
        "--no-audit --no-fund --no-update-notifier --fetch-retries=0 --silent && " +
        `node -e 'process.stdout.write(require("${PACKAGE}"))'`,
    );
    expect(installed.stderr).toBe("");
    expect(installed).toMatchObject({ code: 0, stdout: "installed through the egress proxy" });
  });

  it("the same server, not allowed, is refused within 5 s by name and by address", async () => {
    const sandbox = await create([NAMES.git]);
    const before = seen.length;
    for (const script of [
      `curl -sS --max-time 10 https://${NAMES.web}/`,
      `node -e 'fetch("https://${NAMES.web}/").then(() => process.exit(0), () => process.exit(3))'`,
      `curl -sS --max-time 10 -k https://${address}/`,
    ]) {
      const started = performance.now();
      const result = await sh(sandbox, script);
      expect(result.code, script).not.toBe(0);
      expect(performance.now() - started, script).toBeLessThan(DENY_WITHIN_MS);
    }
    expect(seen.slice(before)).toEqual([]);
  });
});
