import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLACEHOLDER_API_KEY } from "../../src/core/model-egress.js";
import { restClient } from "../support/rest.js";
import { sandboxPids } from "../support/sandbox-processes.js";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { SocketRecorder } from "../support/socket-recorder.js";

/**
 * OpenCode's own hosted models (OpenCode Zen): `agent-runtime serve` with
 * `OPENCODE_API_KEY` in its environment runs an OpenCode session whose model
 * is `opencode/<model>` at the hosted endpoint (`OPENCODE_BASE_URL` points
 * it at a stand-in here: a front door that checks the key, in front of the
 * mock model), the real OpenCode binary inside a real sandbox. The key is
 * held by the egress proxy: the agent's environment, its files and every
 * process of the sandbox hold a placeholder, and the endpoint gets the key.
 */
const ZEN_KEY = "zen-key-3c9e71d24f0b";

describe("OpenCode hosted models (OPENCODE_API_KEY)", () => {
  let mock: MockModel;
  let gate: Server;
  let dataDir: string;
  let server: ServerProcess;
  /** What reached the hosted endpoint: path and key headers of each request. */
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    mock = await startMockModel({
      script: {
        rules: [
          {
            name: "hosted",
            match: { prompt: "Show your environment" },
            replies: [
              { tool: "bash", input: { command: "env; cat opencode.json", description: "Environment" } },
              "Shown from the hosted model.",
            ],
          },
        ],
      },
    });
    const target = new URL(mock.url);
    // The hosted endpoint's front door: `/zen/v1/…` with the key, passed on to the mock's `/v1/…`.
    gate = createServer((req, res) => {
      seen.push({ path: req.url ?? "", headers: req.headers });
      if (req.headers.authorization !== `Bearer ${ZEN_KEY}` || !req.url?.startsWith("/zen/v1/")) {
        res.writeHead(401).end();
        return;
      }
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: req.url.slice("/zen".length),
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => gate.listen(0, "127.0.0.1", resolve));
    dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-opencode-hosted-"));
    server = await startServerProcess({
      dataDir,
      // The main (Anthropic-compatible) endpoint: nothing of these sessions may reach it.
      modelUrl: `${mock.url}/main-endpoint`,
      env: {
        OPENCODE_API_KEY: ZEN_KEY,
        OPENCODE_BASE_URL: `http://127.0.0.1:${(gate.address() as AddressInfo).port}/zen/v1`,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await server?.kill("SIGTERM");
    await new Promise((resolve) => gate?.close(resolve));
    await mock?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("runs `opencode/<model>` at the hosted endpoint with the key the proxy holds; the sandbox never sees it", async () => {
    const rest = restClient(server.url);
    const id = await rest.createSession({
      agentProfileRef: "test",
      architecture: "opencode",
      sessionOptions: { model: "opencode/zen-mock" },
    });
    const recorder = new SocketRecorder(server.url);
    let inSandbox: string[] = [];
    try {
      await recorder.join(id, 0);
      expect((await rest.send(id, "Show your environment please")).status).toBe(202);
      await recorder.waitForTurns(1, 120_000);
      // Every process of the live sandbox: its environment and command line.
      inSandbox = sandboxPids(`session-${id}`).flatMap((pid) => {
        try {
          return [
            readFileSync(`/proc/${pid}/environ`, "latin1"),
            readFileSync(`/proc/${pid}/cmdline`, "latin1"),
          ];
        } catch {
          return []; // Gone meanwhile.
        }
      });
    } finally {
      recorder.close();
    }
    const completed = recorder.events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
    const text = completed.flatMap((b) => (b.type === "assistant_text" ? [b.content] : [])).join("");
    expect(text).toContain("Shown from the hosted model.");
    const toolResult = completed.find((b) => b.type === "tool_result") as
      | Extract<Block, { type: "tool_result" }>
      | undefined;
    const shown = toolResult?.content ?? "";
    expect(shown).toContain(`OPENCODE_API_KEY=${PLACEHOLDER_API_KEY}`);
    expect(shown).toContain('"opencode"');
    expect(shown).not.toContain(ZEN_KEY);
    expect(inSandbox.length).toBeGreaterThan(0);
    expect(inSandbox.filter((text) => text.includes(ZEN_KEY))).toEqual([]);

    // The hosted endpoint got the model's requests, each with the key; the main endpoint got none.
    const answered = mock.requests.filter((r) => r.matched === "hosted");
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.every((r) => r.model === "zen-mock")).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(answered.length);
    expect(seen.every((r) => r.headers.authorization === `Bearer ${ZEN_KEY}`)).toBe(true);
    expect(seen.every((r) => r.path.startsWith("/zen/v1/"))).toBe(true);
    expect(mock.requests.filter((r) => r.path?.includes("main-endpoint"))).toEqual([]);
  }, 180_000);

  it("Claude Code refuses an `opencode/<model>`", async () => {
    const created = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test", sessionOptions: { model: "opencode/zen-mock" } }),
    });
    expect(created.status).toBe(501);
    expect(((await created.json()) as { error: { code: string } }).error.code).toBe("UNSUPPORTED");
  });
});
