import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "node:https";
import type { ScriptInput } from "@agent-runtime/mock-model";
import type { AgentProfileInput, Block } from "@agent-runtime/protocol";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import {
  listenHttps,
  makeTestTls,
  randomLoopbackAddress,
  resolveOnThisHost,
  trustEnv,
} from "../support/test-tls-hosts.js";

/**
 * A running agent calls a tool of an external MCP server over HTTPS at its
 * real URL (`https://mcp.egress.test/mcp`, port 443), with the default
 * restricted egress: the real Claude Code and OpenCode against the mock
 * model, which scripts the tool call. The MCP server (the SDK's Streamable
 * HTTP transport, stateless) runs on a loopback address of the host that the
 * host resolves the name to; the agent trusts the test CA through the
 * profile's environment.
 */
const MCP_HOST = "mcp.egress.test";
const SECRET_WORD = "reached-over-https";

const cases = [
  { architecture: "claude-agent-sdk", tool: "mcp__probe__echo" },
  { architecture: "opencode", tool: "probe_echo" },
] as const;

/** One stateless MCP exchange per POST, with one tool: `echo`. */
async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "POST" }).end();
    return;
  }
  const mcp = new McpServer({ name: "probe", version: "1.0.0" });
  mcp.registerTool(
    "echo",
    { description: "Echoes its text with a marker", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text: `${SECRET_WORD}: ${text}` }] }),
  );
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.once("close", () => {
    void transport.close();
    void mcp.close();
  });
  await mcp.connect(transport);
  await transport.handleRequest(req, res);
}

describe.each(cases)("$architecture: an external MCP server over HTTPS", (c) => {
  let server: TestServer;
  let mcpServer: Server;
  let undoResolve: () => void;
  const calls: string[] = [];

  beforeAll(async () => {
    const tls = await makeTestTls([MCP_HOST]);
    const address = randomLoopbackAddress();
    mcpServer = await listenHttps(address, tls, (req, res) => {
      calls.push(`${req.method} ${req.headers.host}${req.url}`);
      handleMcp(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    undoResolve = resolveOnThisHost([MCP_HOST], address);
    const profile: AgentProfileInput = {
      id: "external-mcp",
      name: "External MCP",
      mcpServers: { probe: { type: "http", url: `https://${MCP_HOST}/mcp` } },
      defaultFiles: [{ path: "test-ca.pem", content: tls.caPem }],
      env: trustEnv("/workspace/test-ca.pem"),
    };
    const script: ScriptInput = {
      rules: [
        {
          match: { prompt: "Call the probe" },
          replies: [{ tool: c.tool, input: { text: "hello" } }, "Called."],
        },
      ],
    };
    server = await startTestServer({ script, agents: [profile] });
  });
  afterAll(async () => {
    undoResolve?.();
    mcpServer?.close();
    await server?.dispose();
  });

  it("the agent's tool call reaches the server and its answer comes back", async () => {
    const rest = restClient(server.url);
    const sessionId = await rest.createSession({
      agentProfileRef: "external-mcp",
      architecture: c.architecture,
    });
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Call the probe");
    await recorder.waitForTurns(1);
    recorder.close();
    const results = recorder.events.flatMap((e) =>
      e.type === "session:block:complete" && e.block.type === "tool_result" ? [e.block] : [],
    ) as Array<Extract<Block, { type: "tool_result" }>>;
    expect(JSON.stringify(results)).toContain(`${SECRET_WORD}: hello`);
    // The agent's client spoke to the server under its real name (TLS and Host end to end).
    expect(calls).toContain(`POST ${MCP_HOST}/mcp`);
    expect(calls.every((call) => call.includes(`${MCP_HOST}/mcp`))).toBe(true);
  });
});
