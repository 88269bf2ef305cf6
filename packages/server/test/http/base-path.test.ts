import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// From source, like the client's own suites (the bare name could load a stale `dist` build).
import { AgentRuntimeClient } from "../../../client/src/index.js";
import { waitForState } from "../../../client/test/support/real-server.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";

/**
 * `agent-runtime serve --base-path /api`, as an operator runs it behind a
 * path: the REST routes, socket.io and the Studio answer under the prefix and
 * nowhere else, and `@agent-runtime/client` given a base URL with that path
 * reaches both REST and socket.io (a real turn of the real Claude Code
 * streams through it). The Studio in a browser under a prefix:
 * `apps/studio/test/studio-base-path.test.ts`.
 */

const ANSWER = "Hello from under the prefix.";

async function jsonError(response: Response): Promise<string> {
  expect(response.headers.get("content-type")).toContain("application/json");
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe("serve --base-path", () => {
  let mock: MockModel;
  let dataDir: string;
  let server: ServerProcess;
  let origin: string;
  let client: AgentRuntimeClient | undefined;

  beforeAll(async () => {
    mock = await startMockModel({
      script: { rules: [{ name: "hello", match: { prompt: "Say hello" }, reply: ANSWER }] },
    });
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-base-path-"));
    // A trailing slash is the same prefix.
    server = await startServerProcess({ dataDir, modelUrl: mock.url, args: ["--base-path", "/api/"] });
    origin = new URL(server.url).origin;
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await server?.kill("SIGTERM");
    await mock?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("announces its URL with the prefix; the API answers under it and nowhere else", async () => {
    expect(server.url).toBe(`${origin}/api`);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status?: string; version?: string }).version).toEqual(
      expect.any(String),
    );
    expect((await fetch(`${server.url}/agent-profiles`)).status).toBe(200);
    for (const path of ["/health", "/sessions", "/apihealth", "/api-x/health", "/other/api/health"]) {
      const response = await fetch(`${origin}${path}`);
      expect(response.status, path).toBe(404);
      expect(await jsonError(response)).toBe("NOT_FOUND");
    }
    const openapi = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      servers?: { url: string }[];
      paths: Record<string, unknown>;
    };
    expect(openapi.servers).toEqual([{ url: "/api" }]);
    expect(Object.keys(openapi.paths)).toContain("/sessions");
  });

  it("the client with a base URL path reaches REST and socket.io under it: a turn streams to it", async () => {
    client = new AgentRuntimeClient({ apiUrl: server.url });
    const created = await client.createSession({ agentProfileRef: "test", architecture: "claude-agent-sdk" });
    const opened = client.openSession(created.sessionId);
    await opened.ready;
    await waitForState(client.connection, (state) => state.status === "connected", 30_000);
    await client.sendMessage(created.sessionId, "Say hello please");
    const done = await waitForState(
      opened.store,
      (s) => !s.turn.running && s.blocks.some((b) => b.type === "assistant_text" && b.content === ANSWER),
      120_000,
    );
    expect(done.blocks.map((b) => b.type)).toContain("user_message");
    opened.release();
  }, 150_000);

  it("socket.io answers at the prefixed path only", async () => {
    const outside = io(origin, { path: "/socket.io", transports: ["websocket"], reconnection: false });
    const refused = await new Promise<boolean>((resolve) => {
      outside.once("connect", () => resolve(false));
      outside.once("connect_error", () => resolve(true));
    });
    outside.close();
    expect(refused).toBe(true);
    const inside = io(origin, { path: "/api/socket.io", transports: ["websocket"], reconnection: false });
    const connected = await new Promise<boolean>((resolve) => {
      inside.once("connect", () => resolve(true));
      inside.once("connect_error", () => resolve(false));
    });
    inside.close();
    expect(connected).toBe(true);
  });

  it("serves the Studio under the prefix: its page names the prefix as its base, its assets and routes answer", async () => {
    const home = await fetch(`${server.url}/`);
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain('<base href="/api/">');
    const assets = [...html.matchAll(/(?:src|href)="(\.\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const response = await fetch(new URL(asset, `${origin}/api/`));
      expect(response.status, asset).toBe(200);
    }
    const deepLink = await fetch(`${server.url}/s/some-session`, { headers: { accept: "text/html" } });
    expect(deepLink.status).toBe(200);
    expect(await deepLink.text()).toContain('<base href="/api/">');
    expect((await fetch(`${origin}/`)).status).toBe(404);
  });
});

describe("AGENT_RUNTIME_BASE_PATH", () => {
  it("sets the prefix from the environment, and a prefix that is not a path stops the server with a clear message", async () => {
    const mock = await startMockModel({ script: { rules: [] } });
    const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-base-path-env-"));
    try {
      const server = await startServerProcess({
        dataDir,
        modelUrl: mock.url,
        env: { AGENT_RUNTIME_BASE_PATH: "/team/agents" },
      });
      try {
        expect(new URL(server.url).pathname).toBe("/team/agents");
        expect((await fetch(`${server.url}/health`)).status).toBe(200);
      } finally {
        await server.kill("SIGTERM");
      }
      const refused = await startServerProcess({
        dataDir,
        modelUrl: mock.url,
        args: ["--base-path", "api/../x"],
      }).then(
        async (started) => {
          await started.kill("SIGTERM");
          return "listened";
        },
        (error: unknown) => String(error),
      );
      expect(refused).toContain("--base-path");
      expect(refused).toContain("api/../x");
    } finally {
      await mock.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
