import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLocalSandboxProvider } from "../../src/sandboxes/local/local-sandbox-provider.js";
import { runInSandbox } from "../../src/sandboxes/sandbox-contract.js";
import type { Sandbox, SandboxNetworkPolicy, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";

/**
 * RELIABILITY cases 4 (egress default-deny with an allowed exception) and 10
 * (host secrets never inside), on real bubblewrap sandboxes. Every target is
 * a loopback server this file starts.
 */
const testRoot = await mkdtemp(join(tmpdir(), "local-net-"));
// Sandboxes run as other users, which must be able to enter it.
await chmod(testRoot, 0o711);
const DENY_WITHIN_MS = 5000;

interface TestServer {
  readonly server: Server;
  readonly endpoint: string;
  readonly port: number;
  readonly seen: IncomingHttpHeaders[];
}

async function startServer(reply: string): Promise<TestServer> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.end(reply);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, port, endpoint: `127.0.0.1:${port}`, seen };
}

describe("local sandbox network policy", () => {
  let provider: SandboxProvider;
  let allowed: TestServer;
  let denied: TestServer;
  const created: Sandbox[] = [];
  const create = async (network: SandboxNetworkPolicy, env?: Record<string, string>) => {
    const sandbox = await provider.create({
      name: `net-${randomUUID().slice(0, 8)}`,
      network,
      ...(env ? { env } : {}),
    });
    created.push(sandbox);
    return sandbox;
  };
  const sh = (sandbox: Sandbox, script: string) => runInSandbox(sandbox, ["bash", "-c", script]);

  beforeAll(async () => {
    provider = createLocalSandboxProvider({ rootDir: join(testRoot, "sandboxes") });
    await provider.check();
    allowed = await startServer("allowed");
    denied = await startServer("denied");
  });
  afterEach(async () => {
    await Promise.all(created.splice(0).map((sandbox) => sandbox.terminate()));
  });
  afterAll(async () => {
    allowed.server.close();
    denied.server.close();
    await rm(testRoot, { recursive: true, force: true });
  });

  it("declares the network policy capability", () => {
    expect(provider.capabilities.networkPolicy).toBe(true);
  });

  it("reaches an allowed endpoint through the proxy, by curl and by node", async () => {
    const sandbox = await create({ allow: [allowed.endpoint] });
    const viaCurl = await sh(sandbox, `curl -sS --max-time 5 http://${allowed.endpoint}/`);
    expect(viaCurl).toMatchObject({ code: 0, stdout: "allowed" });
    const viaNode = await runInSandbox(sandbox, [
      "node",
      "-e",
      `fetch("http://${allowed.endpoint}/").then((r) => r.text()).then((t) => process.stdout.write(t))`,
    ]);
    expect(viaNode).toMatchObject({ code: 0, stdout: "allowed" });
  });

  it("refuses every other endpoint within 5 s: curl, nc, bash /dev/tcp, node, IPv6, raw sockets, DNS", async () => {
    const sandbox = await create({ allow: [allowed.endpoint] });
    const { port } = denied;
    const attempts: Record<string, string> = {
      curl: `curl -sS --max-time 10 http://127.0.0.1:${port}/`,
      "bash /dev/tcp": `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 10 cat <&3`,
      "node net.connect": `node -e 'require("net").connect(${port}, "127.0.0.1").on("data", (d) => process.stdout.write(d)).on("connect", function () { this.write("GET / HTTP/1.0\\r\\n\\r\\n") }).on("error", () => process.exit(3))'`,
      "curl to a host name": "curl -sS --max-time 10 http://example.com/",
      "curl over IPv6 loopback": `curl -sS --max-time 10 -g http://[::1]:${port}/`,
      "curl to an IPv4-mapped IPv6 address": `curl -sS --max-time 10 -g http://[::ffff:127.0.0.1]:${port}/`,
      "curl to the allowed port on another loopback address": `curl -sS --max-time 10 http://127.0.0.2:${allowed.port}/`,
      "a raw socket": `perl -e 'use Socket; socket(my $s, PF_INET, SOCK_RAW, 1) or die "raw: $!\\n"; print "opened\\n"'`,
      "a packet socket": `perl -e 'use Socket; socket(my $s, 17, SOCK_RAW, 0) or die "packet: $!\\n"; print "opened\\n"'`,
      "a DNS lookup": "getent hosts example.com",
      "node's resolver": `node -e 'require("dns").resolve4("example.com", (e, a) => { if (e) process.exit(3); console.log("denied", a) })'`,
    };
    if ((await sh(sandbox, "command -v nc")).code === 0) {
      attempts.nc = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 nc 127.0.0.1 ${port}`;
    }
    for (const [how, script] of Object.entries(attempts)) {
      const started = performance.now();
      const result = await sh(sandbox, script);
      expect(result.stdout, how).not.toContain("denied");
      expect(result.code, how).not.toBe(0);
      expect(performance.now() - started, how).toBeLessThan(DENY_WITHIN_MS);
    }
    expect(denied.seen).toEqual([]);
  });

  it("proxy tricks through an allowed endpoint reach only that endpoint; no proxy socket inside", async () => {
    const realKey = `sk-real-${randomUUID()}`;
    const keyed = await startServer("keyed");
    try {
      const sandbox = await create({
        allow: [allowed.endpoint, keyed.endpoint],
        secrets: [{ endpoint: keyed.endpoint, header: "x-api-key", value: realKey, paths: ["/v1/messages"] }],
      });
      const target = denied.endpoint;
      const send = (endpoint: string, request: string) =>
        sh(
          sandbox,
          `exec 3<>/dev/tcp/${endpoint.replace(":", "/")} && printf '${request}' >&3 && timeout 3 head -c 200 <&3`,
        );
      const connectTrick = `CONNECT ${target} HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n`;
      const absoluteTrick = `GET http://${target}/ HTTP/1.1\\r\\nHost: ${target}\\r\\nConnection: close\\r\\n\\r\\n`;
      // The byte tunnel carries each request to the allowed server only, which answers it as its own
      // (Node's server closes a CONNECT it has no handler for).
      expect((await send(allowed.endpoint, connectTrick)).stdout).toBe("");
      expect((await send(allowed.endpoint, absoluteTrick)).stdout).toMatch(
        /^HTTP\/1\.1 200 OK[\s\S]*allowed$/,
      );
      // The key-injecting endpoint reads requests: neither is an API path, so it forwards neither.
      expect((await send(keyed.endpoint, connectTrick)).stdout).toBe("");
      expect((await send(keyed.endpoint, absoluteTrick)).stdout).toMatch(/^HTTP\/1\.1 403 /);
      expect(denied.seen).toEqual([]);
      expect(keyed.seen).toEqual([]);
      const mounted = await sh(sandbox, "ls /run/agent-runtime 2>&1; ls -a /run 2>&1");
      expect(mounted.stdout).not.toContain(".sock");
    } finally {
      keyed.server.close();
    }
  });

  it("holds at most 256 connections of one sandbox process open; more are closed at once", async () => {
    const sandbox = await create({ allow: [allowed.endpoint] });
    const [host, port] = allowed.endpoint.split(":");
    // 300 idle connections (the allowed server keeps them for its keep-alive time); after a second, how many closed.
    const result = await runInSandbox(sandbox, [
      "node",
      "-e",
      `const net = require("net"); let closed = 0;
       const sockets = Array.from({ length: 300 }, () =>
         net.connect(${port}, "${host}").on("error", () => {}).on("close", () => closed++));
       setTimeout(() => { console.log(closed); process.exit(0); }, 1500);`,
    ]);
    expect(result).toMatchObject({ code: 0, stdout: "44\n" });
  });

  it("an empty allow-list means no egress at all", async () => {
    const sandbox = await create({ allow: [] });
    const result = await sh(sandbox, `curl -sS --max-time 5 http://${allowed.endpoint}/`);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
  });

  it("injects the real key at the proxy; the sandbox only ever holds the placeholder", async () => {
    const realKey = `sk-real-${randomUUID()}`;
    const canary = `canary-${randomUUID()}`;
    process.env.AGENT_RUNTIME_NETWORK_CANARY = canary;
    try {
      const sandbox = await create(
        {
          allow: [allowed.endpoint],
          secrets: [{ endpoint: allowed.endpoint, header: "x-api-key", value: realKey }],
        },
        { ANTHROPIC_API_KEY: "placeholder" },
      );
      const before = allowed.seen.length;
      const result = await sh(
        sandbox,
        `curl -sS --max-time 5 -H "x-api-key: $ANTHROPIC_API_KEY" http://${allowed.endpoint}/v1/messages; echo; ` +
          "env; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '",
      );
      expect(result.stdout.startsWith("allowed\n")).toBe(true);
      expect(result.stdout).toContain("ANTHROPIC_API_KEY=placeholder");
      expect(result.stdout).not.toContain(realKey);
      expect(result.stdout).not.toContain(canary);
      expect(allowed.seen.slice(before).map((headers) => headers["x-api-key"])).toEqual([realKey]);
    } finally {
      delete process.env.AGENT_RUNTIME_NETWORK_CANARY;
    }
  });

  it("rejects invalid policies", async () => {
    await expect(create({ allow: ["no-port"] })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(create({ allow: ["10.0.0.1:80"] })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(
      create({ allow: [], secrets: [{ endpoint: allowed.endpoint, header: "x-api-key", value: "k" }] }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
