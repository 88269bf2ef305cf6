import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";

/** No agent runs in these tests; the model is never asked. */
const MODEL_URL = "http://127.0.0.1:9";

/** The status of `GET /sessions` with `key`. */
async function statusWith(url: string, key: string): Promise<number> {
  return (await fetch(`${url}/sessions`, { headers: { authorization: `Bearer ${key}` } })).status;
}

async function createSession(url: string, key: string): Promise<{ sessionId: string; tenantId?: string }> {
  const response = await fetch(`${url}/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ agentProfileRef: "test" }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { sessionId: string; tenantId?: string };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Issue 17: `serve` takes admin and tenant keys, from its flags and from a file it reads again on SIGHUP. */
describe("serve --api-keys and --api-keys-file", () => {
  let dir: string;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-keys-"));
    // Sandboxes run as other users, which must be able to enter it.
    await chmod(dir, 0o711);
  });
  afterEach(async () => {
    await server?.kill("SIGTERM");
    server = undefined;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads KEY as an admin key and TENANT:KEY as a tenant's key from AGENT_RUNTIME_API_KEYS", async () => {
    const dataDir = await mkdtemp(join(dir, "env-"));
    server = await startServerProcess({
      dataDir,
      modelUrl: MODEL_URL,
      env: { AGENT_RUNTIME_API_KEYS: "root-key, acme:acme-key,globex:globex:key" },
    });
    const acme = await createSession(server.url, "acme-key");
    expect(acme.tenantId).toBe("acme");
    const globex = await createSession(server.url, "globex:key");
    expect(globex.tenantId).toBe("globex");
    const get = (key: string, sessionId: string) =>
      fetch(`${server!.url}/sessions/${sessionId}`, { headers: { authorization: `Bearer ${key}` } });
    expect((await get("globex:key", acme.sessionId)).status).toBe(404);
    expect((await get("acme-key", acme.sessionId)).status).toBe(200);
    expect((await get("root-key", acme.sessionId)).status).toBe(200);
    expect((await get("root-key", globex.sessionId)).status).toBe(200);
    expect(await statusWith(server.url, "acme:acme-key")).toBe(401);
  });

  it("refuses to start with an invalid tenant in --api-keys, without printing the key", async () => {
    const dataDir = await mkdtemp(join(dir, "bad-"));
    const started = startServerProcess({
      dataDir,
      modelUrl: MODEL_URL,
      args: ["--api-keys", "root-key,bad tenant:secret-value"],
    });
    const error = (await started.then(
      () => {
        throw new Error("the server started");
      },
      (reason: unknown) => reason,
    )) as Error;
    expect(error.message).toMatch(/exited before listening/);
    expect(error.message).toMatch(/entry 2: the tenant/);
    expect(error.message).not.toContain("secret-value");
  });

  it("refuses to start with a keys file that is not of the format", async () => {
    const dataDir = await mkdtemp(join(dir, "bad-file-"));
    const file = join(dir, "bad-keys.json");
    await writeFile(file, JSON.stringify({ keys: [{ tenant: "acme", secret: "secret-value" }] }));
    const error = (await startServerProcess({
      dataDir,
      modelUrl: MODEL_URL,
      args: ["--api-keys-file", file],
    }).then(
      () => new Error("the server started"),
      (reason: unknown) => reason,
    )) as Error;
    expect(error.message).toMatch(/API keys file .*bad-keys\.json/);
    expect(error.message).not.toContain("secret-value");
  });

  it("rotates the keys of --api-keys-file on SIGHUP, and keeps them when the new file is invalid", async () => {
    const dataDir = await mkdtemp(join(dir, "file-"));
    const file = join(dir, "keys.json");
    await writeFile(file, JSON.stringify({ keys: ["root-1", { tenant: "acme", key: "acme-1" }] }));
    server = await startServerProcess({
      dataDir,
      modelUrl: MODEL_URL,
      args: ["--api-keys", "flag-admin"],
      env: { AGENT_RUNTIME_API_KEYS_FILE: file },
    });
    const { url, pid } = server;
    expect((await createSession(url, "acme-1")).tenantId).toBe("acme");
    expect(await statusWith(url, "root-1")).toBe(200);
    expect(await statusWith(url, "flag-admin")).toBe(200);
    expect(await statusWith(url, "acme-2")).toBe(401);

    await writeFile(file, JSON.stringify({ keys: ["root-1", { tenant: "acme", key: "acme-2" }] }));
    process.kill(pid, "SIGHUP");
    await until(async () => (await statusWith(url, "acme-2")) === 200, "the new key is accepted");
    expect(await statusWith(url, "acme-1")).toBe(401);
    expect(await statusWith(url, "flag-admin")).toBe(200);
    expect(server.output()).toMatch(/API keys reloaded/);

    await writeFile(file, "{ not json");
    process.kill(pid, "SIGHUP");
    await until(async () => /API keys not reloaded/.test(server!.output()), "the refusal is logged");
    expect(await statusWith(url, "acme-2")).toBe(200);
    expect(await statusWith(url, "root-1")).toBe(200);
  });
});
