import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomLoopbackAddress } from "../support/test-tls-hosts.js";

const execFileAsync = promisify(execFile);
const SERVER_DIR = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A server that is not root (no CAP_SYS_ADMIN) cannot enter its sandboxes'
 * network namespaces itself; its listeners come from the `nsenter` helper
 * (`netns-listeners.ts`). This runs the local provider in a process of an
 * unprivileged uid, as such a server does, and checks from inside one of its
 * sandboxes that an allowed endpoint on port 443 is reachable at that port and
 * another endpoint is refused within 5 s.
 */
const SERVER_UID = 1_400_000_000 + randomInt(1_000_000);

const SCRIPT = `
import { createLocalSandboxProvider } from ${JSON.stringify(join(SERVER_DIR, "src/sandboxes/local/local-sandbox-provider.ts"))};
import { listenerMethod } from ${JSON.stringify(join(SERVER_DIR, "src/sandboxes/local/netns-listeners.ts"))};
import { runInSandbox } from ${JSON.stringify(join(SERVER_DIR, "src/sandboxes/sandbox-contract.ts"))};
const [rootDir, allowed, denied] = process.argv.slice(2);
const provider = createLocalSandboxProvider({ rootDir });
await provider.check();
const sandbox = await provider.create({ name: "unprivileged", network: { allow: [allowed] } });
const curl = async (endpoint) => {
  const started = performance.now();
  const result = await runInSandbox(sandbox, ["curl", "-sS", "--max-time", "10", "http://" + endpoint + "/"]);
  return { ...result, ms: performance.now() - started };
};
const reached = await curl(allowed);
const refused = await curl(denied);
await sandbox.terminate();
await provider.remove("unprivileged");
process.stdout.write(JSON.stringify({ method: listenerMethod(), uid: process.getuid(), reached, refused }));
`;

interface Outcome {
  readonly method: string;
  readonly uid: number;
  readonly reached: { code: number; stdout: string };
  readonly refused: { code: number; stdout: string; ms: number };
}

describe("a server that is not root", () => {
  let dir: string;
  let allowed: Server;
  let denied: Server;
  const seen: string[] = [];

  const start = async (host: string, port: number, reply: string) => {
    const server = createServer((_req, res) => {
      seen.push(reply);
      res.end(reply);
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    return server;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "egress-unprivileged-"));
    await chmod(dir, 0o755);
    await chown(dir, SERVER_UID, SERVER_UID);
    await writeFile(join(dir, "provider.mts"), SCRIPT);
    allowed = await start(randomLoopbackAddress(), 443, "allowed");
    denied = await start("127.0.0.1", 0, "denied");
  });
  afterAll(async () => {
    allowed?.close();
    denied?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves an allowed endpoint at port 443 inside through the helper and refuses others", async () => {
    const address = (server: Server) => {
      const { address: host, port } = server.address() as AddressInfo;
      return `${host}:${port}`;
    };
    const { stdout } = await execFileAsync(
      process.execPath,
      ["--import", "tsx", "--conditions=@agent-runtime/source", join(dir, "provider.mts")].concat([
        join(dir, "sandboxes"),
        address(allowed),
        address(denied),
      ]),
      {
        uid: SERVER_UID,
        gid: SERVER_UID,
        cwd: SERVER_DIR,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TSX_CACHE: "false" },
        timeout: 90_000,
      },
    );
    const outcome = JSON.parse(stdout) as Outcome;
    expect(outcome).toMatchObject({ method: "helper", uid: SERVER_UID });
    expect(outcome.reached).toMatchObject({ code: 0, stdout: "allowed" });
    expect(outcome.refused.code).not.toBe(0);
    expect(outcome.refused.ms).toBeLessThan(5000);
    expect(seen).toEqual(["allowed"]);
  });
});
