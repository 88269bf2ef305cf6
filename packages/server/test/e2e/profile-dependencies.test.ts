import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { AgentProfileInput, Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packPackage, registryHandler } from "../support/npm-registry-stand-in.js";
import { buildPythonWheel } from "../support/python-wheel.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * A profile's npm and pip packages and its bundled MCP project, used by the
 * real Claude Code and OpenCode against the mock model: a script the agent
 * runs imports both packages, and the bundled server (installed with its own
 * npm dependency) answers a tool call. The layer is installed once, by the
 * first session (which shows `preparing`); every later session, of either
 * agent, starts from it without a registry request.
 */
const testRoot = await mkdtemp(join(tmpdir(), "profile-deps-"));
await chmod(testRoot, 0o711);

/** A stdio MCP server whose one tool, `forecast`, answers with what its own npm dependency exports. */
const WEATHER_SERVER = `
const dependency = require("layer-dep-b");
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\\n");
require("node:readline").createInterface({ input: process.stdin }).on("line", (line) => {
  const r = JSON.parse(line);
  if (r.id === undefined) return;
  if (r.method === "initialize") send({ id: r.id, result: { protocolVersion: r.params.protocolVersion,
    capabilities: { tools: {} }, serverInfo: { name: "weather", version: "1.0.0" } } });
  else if (r.method === "tools/list") send({ id: r.id, result: { tools: [{ name: "forecast",
    description: "The forecast", inputSchema: { type: "object", properties: {} } }] } });
  else if (r.method === "tools/call") send({ id: r.id, result: { content: [{ type: "text",
    text: "forecast from a bundled project: " + dependency }] } });
  else send({ id: r.id, error: { code: -32601, message: "method not found" } });
});
`;

const PROFILE: AgentProfileInput = {
  id: "with-deps",
  name: "With dependencies",
  dependencies: { npm: ["layer-dep-a"], pip: ["layerwheel"] },
  mcpServers: {
    weather: {
      type: "bundled",
      files: [
        {
          path: "package.json",
          content: JSON.stringify({
            name: "weather",
            private: true,
            dependencies: { "layer-dep-b": "1.0.0" },
          }),
        },
        { path: "server.js", content: WEATHER_SERVER },
      ],
      command: "node",
      args: ["server.js"],
    },
  },
};

const BROKEN: AgentProfileInput = {
  id: "broken-deps",
  name: "Broken",
  dependencies: { npm: ["layer-dep-missing"] },
};

const IMPORT_SCRIPT =
  "node -e 'console.log(require(\"layer-dep-a\"))' > deps.txt && " +
  "python3 -c 'import layerwheel; print(layerwheel.VALUE)' >> deps.txt";

const architectures = [
  { architecture: "claude-agent-sdk", bash: "Bash", forecast: "mcp__weather__forecast" },
  { architecture: "opencode", bash: "bash", forecast: "weather_forecast" },
] as const;

function script(): ScriptInput {
  return {
    rules: architectures.map((c) => ({
      name: `deps-${c.architecture}`,
      match: { prompt: `Use the dependencies (${c.architecture})` },
      replies: [
        { tool: c.bash, input: { command: IMPORT_SCRIPT, description: "Import the packages" } },
        { tool: c.forecast, input: {} },
        "Done.",
      ],
    })),
  };
}

describe("profile dependencies and bundled MCP projects, on both agents", () => {
  let server: TestServer;
  let registry: Server;
  const requests: string[] = [];
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    const packages = await Promise.all(
      ["layer-dep-a", "layer-dep-b"].map((name) =>
        packPackage(join(testRoot, "packages"), name, `${name} works`),
      ),
    );
    let handler: ReturnType<typeof registryHandler> | undefined;
    registry = createServer((req, res) => {
      requests.push(req.url ?? "");
      handler?.(req, res);
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    const registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
    handler = registryHandler(registryUrl, packages);
    const wheels = join(testRoot, "wheels");
    await buildPythonWheel(wheels, "layerwheel", "layerwheel works");
    await chmod(wheels, 0o755);
    server = await startTestServer({
      script: script(),
      agents: [PROFILE, BROKEN],
      runtime: { dependencies: { npmRegistry: `${registryUrl}/`, pipFindLinks: [wheels] } },
    });
  });

  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
    await new Promise((resolve) => registry?.close(resolve));
    await rm(testRoot, { recursive: true, force: true });
  });

  async function run(
    architecture: string,
    profile = PROFILE.id!,
  ): Promise<{ sessionId: string; events: SessionEvent[]; blocks: Block[] }> {
    const rest = restClient(server.url);
    const sessionId = await rest.createSession({ agentProfileRef: profile, architecture });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(sessionId, 0);
    expect((await rest.send(sessionId, `Use the dependencies (${architecture})`)).status).toBe(202);
    await recorder.waitFor((e) => e.type === "session:turn:completed", 180_000);
    const blocks = recorder.events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
    return { sessionId, events: recorder.events, blocks };
  }

  const statuses = (events: SessionEvent[]) =>
    events.flatMap((e) => (e.type === "session:status" ? [e.runtime.sandboxStatus] : []));
  const installs = () => requests.filter((path) => path === "/layer-dep-a" || path === "/layer-dep-b").length;

  function forecastResult(blocks: Block[], toolName: string): string | undefined {
    const use = blocks.find((b) => b.type === "tool_use" && b.toolName === toolName);
    const result = blocks.find(
      (b) => b.type === "tool_result" && use?.type === "tool_use" && b.toolUseId === use.toolUseId,
    );
    return result?.type === "tool_result" ? String(result.content) : undefined;
  }

  async function expectUsed(c: (typeof architectures)[number], run: { sessionId: string; blocks: Block[] }) {
    const file = await fetch(`${server.url}/sessions/${run.sessionId}/files/deps.txt`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe("layer-dep-a works\nlayerwheel works\n");
    expect(forecastResult(run.blocks, c.forecast)).toContain(
      "forecast from a bundled project: layer-dep-b works",
    );
  }

  it("the first session installs the layer (preparing), and its agent imports the packages and calls the bundled server", async () => {
    const c = architectures[0];
    const first = await run(c.architecture);
    expect(statuses(first.events)).toContain("preparing");
    const progress = first.events.flatMap((e) =>
      e.type === "session:status" && e.runtime.sandboxStatus === "preparing" && e.runtime.progress
        ? [e.runtime.progress]
        : [],
    );
    expect(progress.join("\n")).toContain("$ npm install");
    await expectUsed(c, first);
    expect(installs()).toBe(2);
  });

  it.each(architectures)(
    "a later $architecture session reuses the layer: no install, no preparing",
    async (c) => {
      const before = installs();
      const later = await run(c.architecture);
      expect(statuses(later.events)).not.toContain("preparing");
      await expectUsed(c, later);
      expect(installs()).toBe(before);
    },
  );

  it("a package that cannot be installed fails the session's start with DEPENDENCIES_FAILED and npm's output", async () => {
    const rest = restClient(server.url);
    const sessionId = await rest.createSession({
      agentProfileRef: BROKEN.id!,
      architecture: "claude-agent-sdk",
    });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(sessionId, 0);
    expect((await rest.send(sessionId, "Anything")).status).toBe(202);
    const failed = await recorder.waitFor(
      (e) => e.type === "session:status" && e.runtime.sandboxStatus === "error",
      120_000,
    );
    expect(failed.type === "session:status" && failed.runtime.error?.code).toBe("DEPENDENCIES_FAILED");
    expect(failed.type === "session:status" && failed.runtime.error?.message).toMatch(
      /layer-dep-missing[\s\S]*(404|Not Found)/i,
    );
  });
});
