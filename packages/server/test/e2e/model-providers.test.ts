import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type MockModel, startMockModel } from "@agent-runtime/mock-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * A further model provider (an OpenAI-compatible endpoint with its own key),
 * used by the real OpenCode when its session names `<provider>/<model>`: the
 * provider gets the request with its own key, injected by the egress proxy
 * (the agent holds a placeholder), and the main endpoint gets none of it.
 * Claude Code, which talks to the main endpoint only, refuses such a model.
 */
const PROVIDER_KEY = "other-provider-key";

describe("further model providers", () => {
  let server: TestServer;
  let other: MockModel;
  let gate: Server;
  /** The authorization header of every request that reached the provider. */
  const seen: string[] = [];

  beforeAll(async () => {
    other = await startMockModel({
      script: { rules: [{ name: "other", match: { prompt: "Which provider" }, reply: "The other one." }] },
    });
    const target = new URL(other.url);
    // The provider's front door: it checks the key, then passes the request on.
    gate = createServer((req, res) => {
      seen.push(req.headers.authorization ?? "");
      if (req.headers.authorization !== `Bearer ${PROVIDER_KEY}`) {
        res.writeHead(401).end();
        return;
      }
      const forward = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => gate.listen(0, "127.0.0.1", resolve));
    server = await startTestServer({
      script: { rules: [{ name: "main", match: { prompt: "Which provider" }, reply: "The main one." }] },
      runtime: {
        modelProviders: {
          other: {
            baseUrl: `http://127.0.0.1:${(gate.address() as AddressInfo).port}`,
            apiKey: PROVIDER_KEY,
          },
        },
      },
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await new Promise((resolve) => gate?.close(resolve));
    await other?.close();
  });

  it("OpenCode runs `other/<model>` at that provider, with its key injected outside the sandbox", async () => {
    const rest = restClient(server.url);
    const id = await rest.createSession({
      agentProfileRef: "test",
      architecture: "opencode",
      sessionOptions: { model: "other/provider-model" },
    });
    const recorder = new SocketRecorder(server.url);
    try {
      await recorder.join(id, 0);
      expect((await rest.send(id, "Which provider answers?")).status).toBe(202);
      await recorder.waitForTurns(1, 120_000);
      const texts = recorder.events.flatMap((e) =>
        e.type === "session:block:complete" && e.block.type === "assistant_text" ? [e.block.content] : [],
      );
      expect(texts.join("")).toContain("The other one.");
    } finally {
      recorder.close();
    }
    const answered = other.requests.filter((r) => r.matched === "other");
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.every((r) => r.model === "provider-model")).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((header) => header === `Bearer ${PROVIDER_KEY}`)).toBe(true);
    expect(server.mock.requests.filter((r) => r.matched === "main")).toEqual([]);
  });

  it("Claude Code refuses a model of a further provider, at creation and in a PATCH", async () => {
    const created = await fetch(`${server.url}/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agentProfileRef: "test", sessionOptions: { model: "other/provider-model" } }),
    });
    expect(created.status).toBe(501);
    expect((await created.json()).error.code).toBe("UNSUPPORTED");
    const id = await restClient(server.url).createSession({ agentProfileRef: "test" });
    const patched = await fetch(`${server.url}/sessions/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionOptions: { model: "other/provider-model" } }),
    });
    expect(patched.status).toBe(501);
  });
});
