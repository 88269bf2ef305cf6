import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";

/** No agent runs in these tests; the model is never asked. */
const MODEL_URL = "http://127.0.0.1:9";

/** `GET path` with an optional key and `X-Forwarded-For`. */
function get(
  server: ServerProcess,
  path: string,
  { key, forwardedFor }: { key?: string; forwardedFor?: string } = {},
): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
    },
  });
}

/** The statuses of `count` requests made one after the other. */
async function statuses(count: number, request: () => Promise<Response>): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await request();
    await response.arrayBuffer();
    result.push(response.status);
  }
  return result;
}

/** Issue 25: REST rate limits and trusted proxies are `serve` settings, on a real server process. */
describe("serve --rate-limit-* and --trust-proxy", () => {
  let dir: string;
  let server: ServerProcess | undefined;
  const start = async (options: { args?: string[]; env?: Record<string, string> }) => {
    server = await startServerProcess({
      dataDir: await mkdtemp(join(dir, "data-")),
      modelUrl: MODEL_URL,
      ...options,
    });
    return server;
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-http-limits-"));
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

  it("limits each address to --rate-limit-per-ip requests per --rate-limit-window", async () => {
    const s = await start({ args: ["--rate-limit-per-ip", "3", "--rate-limit-window", "120"] });
    const first = await get(s, "/health");
    expect(first.headers.get("x-ratelimit-limit")).toBe("3");
    expect(await statuses(3, () => get(s, "/health"))).toEqual([200, 200, 429]);
    const limited = await get(s, "/sessions");
    expect(limited.status).toBe(429);
    expect((await limited.json()) as unknown).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // The window is the configured one: the retry comes within it, later than the 60 s default allows.
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(60);
  });

  it("limits keys by AGENT_RUNTIME_RATE_LIMIT_PER_KEY, and lifts the per-address limit at 0", async () => {
    const s = await start({
      env: {
        AGENT_RUNTIME_API_KEYS: "key-a,key-b",
        AGENT_RUNTIME_RATE_LIMIT_PER_KEY: "2",
        AGENT_RUNTIME_RATE_LIMIT_PER_IP: "0",
      },
    });
    expect(await statuses(3, () => get(s, "/sessions", { key: "key-a" }))).toEqual([200, 200, 429]);
    // Each key has its own budget.
    expect(await statuses(1, () => get(s, "/sessions", { key: "key-b" }))).toEqual([200]);
    // Requests without a valid key are not counted at all.
    const unkeyed = await statuses(700, () => get(s, "/health"));
    expect(unkeyed.every((status) => status === 200)).toBe(true);
  });

  it("limits nothing with both limits at 0", async () => {
    const s = await start({ args: ["--rate-limit-per-key", "0", "--rate-limit-per-ip", "0"] });
    const all = await statuses(700, () => get(s, "/sessions"));
    expect(all.every((status) => status === 200)).toBe(true);
    expect((await get(s, "/health")).headers.get("x-ratelimit-limit")).toBeNull();
  });

  it("ignores X-Forwarded-For without --trust-proxy: every client behind one proxy shares its bucket", async () => {
    const s = await start({ args: ["--rate-limit-per-ip", "2"] });
    expect(await statuses(2, () => get(s, "/health", { forwardedFor: "203.0.113.1" }))).toEqual([200, 200]);
    expect(await statuses(1, () => get(s, "/health", { forwardedFor: "203.0.113.2" }))).toEqual([429]);
  });

  it("counts each forwarded client on its own with --trust-proxy naming the proxy", async () => {
    const s = await start({ args: ["--rate-limit-per-ip", "2", "--trust-proxy", "loopback"] });
    const client = (address: string) => () => get(s, "/health", { forwardedFor: address });
    expect(await statuses(3, client("203.0.113.1"))).toEqual([200, 200, 429]);
    expect(await statuses(2, client("203.0.113.2"))).toEqual([200, 200]);
    // A client cannot spoof its way out: the proxy appends the real address, and only the proxy is trusted.
    expect(await statuses(1, client("198.51.100.7, 203.0.113.1"))).toEqual([429]);
  });

  it("takes a hop count from AGENT_RUNTIME_TRUST_PROXY", async () => {
    const s = await start({ args: ["--rate-limit-per-ip", "1"], env: { AGENT_RUNTIME_TRUST_PROXY: "1" } });
    expect(await statuses(2, () => get(s, "/health", { forwardedFor: "203.0.113.1" }))).toEqual([200, 429]);
    expect(await statuses(1, () => get(s, "/health", { forwardedFor: "203.0.113.2" }))).toEqual([200]);
  });

  it("refuses a limit that is not a positive integer", async () => {
    await expect(start({ args: ["--rate-limit-per-ip", "-5"] })).rejects.toThrow(
      /perIp must be a positive integer/,
    );
  });
});
