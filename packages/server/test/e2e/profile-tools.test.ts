import type { ScriptInput } from "@agent-runtime/mock-model";
import type { AgentProfileInput, Block, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * A profile's `tools` is what the agent gets, on both agents: the real
 * Claude Code and OpenCode against the mock model, which records the tools
 * each request offers. A call of anything else is refused by the agent and
 * changes nothing on disk. The profile's system prompt reaches command turns.
 */
interface ArchitectureCase {
  readonly architecture: "claude-agent-sdk" | "opencode";
  readonly bash: string;
  /** What the read-only profile offers, sorted. */
  readonly readOnlyOffer: readonly string[];
  /** The echo server's tools as the agent names them. */
  readonly echo: string;
  readonly shout: string;
  /** What the MCP profile offers, sorted. */
  readonly mcpOffer: readonly string[];
}

const cases: ArchitectureCase[] = [
  {
    architecture: "claude-agent-sdk",
    bash: "Bash",
    readOnlyOffer: ["Glob", "Grep", "Read"],
    echo: "mcp__echo__echo",
    shout: "mcp__echo__shout",
    // Claude Code cannot hide single tools of a server: the unlisted one is offered, and refused.
    mcpOffer: ["Read", "mcp__echo__echo", "mcp__echo__shout"],
  },
  {
    architecture: "opencode",
    bash: "bash",
    readOnlyOffer: ["glob", "grep", "read"],
    echo: "echo_echo",
    shout: "echo_shout",
    mcpOffer: ["echo_echo", "read"],
  },
];

/** A stdio MCP server with two tools, `echo` and `shout`, in one `node -e` script. */
const ECHO_SERVER = `
const tools = ["echo", "shout"].map((name) => ({ name, description: name + " its text",
  inputSchema: { type: "object", properties: { text: { type: "string" } } } }));
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\\n");
require("node:readline").createInterface({ input: process.stdin }).on("line", (line) => {
  const r = JSON.parse(line);
  if (r.id === undefined) return;
  if (r.method === "initialize") send({ id: r.id, result: { protocolVersion: r.params.protocolVersion,
    capabilities: { tools: {} }, serverInfo: { name: "echo", version: "1.0.0" } } });
  else if (r.method === "tools/list") send({ id: r.id, result: { tools } });
  else if (r.method === "tools/call") send({ id: r.id, result: { content: [{ type: "text",
    text: r.params.name + " says " + (r.params.arguments && r.params.arguments.text) }] } });
  else send({ id: r.id, error: { code: -32601, message: "method not found" } });
});`;

const SYSTEM_MARKER = "PROFILE-SYSTEM-PROMPT-MARKER";

const profiles: AgentProfileInput[] = [
  { id: "read-only", name: "Read only", tools: ["Read", "Glob", "Grep"] },
  {
    id: "mcp",
    name: "One MCP tool",
    tools: ["Read", "mcp__echo__echo"],
    mcpServers: { echo: { type: "stdio", command: "node", args: ["-e", ECHO_SERVER] } },
  },
  {
    id: "ask-bash",
    name: "Asks before Bash",
    tools: ["Read", "Bash"],
    permissions: { mode: "ask", tools: ["Bash"] },
  },
  {
    id: "commander",
    name: "Has a command",
    systemPrompt: SYSTEM_MARKER,
    commands: [{ name: "explain", prompt: "Explain $ARGUMENTS in detail" }],
  },
];

function scriptFor(c: ArchitectureCase): ScriptInput {
  const touch = (name: string) => ({
    tool: c.bash,
    input: { command: `touch ${name}.marker`, description: "Create a marker" },
  });
  return {
    rules: [
      {
        name: "forbidden-bash",
        match: { prompt: "Touch forbidden" },
        replies: [touch("forbidden"), "Finished."],
      },
      { name: "asked-bash", match: { prompt: "Touch asked" }, replies: [touch("asked"), "Finished."] },
      {
        name: "mcp-calls",
        match: { prompt: "Use the echo server" },
        replies: [
          { tool: c.echo, input: { text: "hi" } },
          { tool: c.shout, input: { text: "hi" } },
          "Finished.",
        ],
      },
      { name: "command", match: { prompt: "Explain foo in detail" }, reply: "Explained." },
    ],
  };
}

describe.each(cases)("$architecture profile tools", (c) => {
  let server: TestServer;
  const recorders: SocketRecorder[] = [];

  beforeAll(async () => {
    server = await startTestServer({ script: scriptFor(c), agents: profiles });
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.close();
    await server?.dispose();
  });

  /** Creates a session of `profile`, sends `content` and waits for the turn's end (or `until`). */
  async function run(
    profile: string,
    content: string,
    until: (event: SessionEvent) => boolean = (e) => e.type === "session:turn:completed",
  ): Promise<{ sessionId: string; recorder: SocketRecorder; blocks: Block[] }> {
    const rest = restClient(server.url);
    const sessionId = await rest.createSession({ agentProfileRef: profile, architecture: c.architecture });
    const recorder = new SocketRecorder(server.url);
    recorders.push(recorder);
    await recorder.join(sessionId, 0);
    expect((await rest.send(sessionId, content)).status).toBe(202);
    await recorder.waitFor(until);
    const blocks = recorder.events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
    return { sessionId, recorder, blocks };
  }

  const offers = (rule: string) =>
    server.mock.requests.filter((r) => r.matched === rule).map((r) => [...r.tools].sort());

  function resultOf(blocks: Block[], toolName: string): Extract<Block, { type: "tool_result" }> | undefined {
    const use = blocks.find((b) => b.type === "tool_use" && b.toolName === toolName);
    return blocks.find(
      (b): b is Extract<Block, { type: "tool_result" }> =>
        b.type === "tool_result" && use?.type === "tool_use" && b.toolUseId === use.toolUseId,
    );
  }

  it("offers exactly the listed tools and refuses a Bash call, which changes nothing on disk", async () => {
    const { sessionId, blocks } = await run("read-only", "Touch forbidden");
    const offered = offers("forbidden-bash");
    expect(offered.length).toBeGreaterThan(0);
    for (const tools of offered) expect(tools).toEqual(c.readOnlyOffer);
    expect(resultOf(blocks, c.bash)?.isError).toBe(true);
    const file = await fetch(`${server.url}/sessions/${sessionId}/files/forbidden.marker`);
    expect(file.status).toBe(404);
    const data = await restClient(server.url).session(sessionId);
    expect(data.files.map((f) => f.path)).not.toContain("forbidden.marker");
  });

  it("offers a listed MCP tool, which answers, and refuses the server's unlisted one", async () => {
    const { blocks } = await run("mcp", "Use the echo server");
    const offered = offers("mcp-calls");
    expect(offered.length).toBeGreaterThan(0);
    for (const tools of offered) expect(tools).toEqual(c.mcpOffer);
    const echoed = resultOf(blocks, c.echo);
    expect(echoed?.isError).toBeFalsy();
    expect(echoed?.content).toContain("echo says hi");
    const shouted = resultOf(blocks, c.shout);
    expect(shouted?.isError).toBe(true);
    expect(shouted?.content).not.toContain("shout says hi");
  });

  it("still asks before a listed tool the permission policy names", async () => {
    const { sessionId, recorder } = await run(
      "ask-bash",
      "Touch asked",
      (e) => e.type === "session:permission:requested" || e.type === "session:turn:completed",
    );
    const requested = recorder.events.find((e) => e.type === "session:permission:requested");
    expect(requested).toBeDefined();
    if (requested?.type === "session:permission:requested") {
      const answer = await restClient(server.url).post(
        `/sessions/${sessionId}/permissions/${requested.request.requestId}`,
        { decision: "deny" },
      );
      expect(answer.status).toBe(200);
      await recorder.waitForTurns(1);
    }
    const file = await fetch(`${server.url}/sessions/${sessionId}/files/asked.marker`);
    expect(file.status).toBe(404);
  });

  it("applies the profile's system prompt to a command turn", async () => {
    await run("commander", "/explain foo");
    const requests = server.mock.requests.filter((r) => r.matched === "command");
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) expect(request.system).toContain(SYSTEM_MARKER);
  });
});
