import { agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { createAcpArchitecture } from "../agents/acp/acp-architecture.js";
import { createClaudeAgentSdkArchitecture } from "../agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { createOpenCodeArchitecture } from "../agents/opencode/opencode-architecture.js";
import { PLACEHOLDER_API_KEY, sandboxEgressFor } from "./model-egress.js";

const profile = agentProfileSchema.parse({
  id: "p",
  name: "P",
  mcpServers: {
    docs: { type: "http", url: "https://mcp.example.test/mcp" },
    local: { type: "stdio", command: "node" },
  },
  network: { allow: ["registry.example.test:443"] },
});

describe("sandboxEgressFor", () => {
  it("allows the model endpoint and external MCP servers, with the key injected for the model", () => {
    const egress = sandboxEgressFor(
      { baseUrl: "http://127.0.0.1:4100", apiKey: "sk-real" },
      createClaudeAgentSdkArchitecture(),
      profile,
    );
    expect(egress.network.allow).toEqual([
      "127.0.0.1:4100",
      "mcp.example.test:443",
      "registry.example.test:443",
    ]);
    expect(egress.network.secrets).toEqual([
      {
        endpoint: "127.0.0.1:4100",
        header: "x-api-key",
        value: "sk-real",
        paths: ["POST /v1/messages", "POST /v1/messages/count_tokens", "GET /v1/models"],
      },
    ]);
    expect(egress.agentEndpoint).toEqual({ baseUrl: "http://127.0.0.1:4100", apiKey: PLACEHOLDER_API_KEY });
  });

  it("sends HTTPS endpoints through the proxy's TLS and uses the agent's own key header", () => {
    const egress = sandboxEgressFor(
      { baseUrl: "https://gateway.example.test/anthropic/", apiKey: "sk-real" },
      createOpenCodeArchitecture(),
      agentProfileSchema.parse({ id: "p", name: "P" }),
    );
    expect(egress.network.secrets).toEqual([
      {
        endpoint: "gateway.example.test:443",
        header: "authorization",
        value: "Bearer sk-real",
        tls: true,
        // Only the model API's paths under the base URL's path get the key.
        paths: ["POST /anthropic/v1/chat/completions", "GET /anthropic/v1/models"],
      },
    ]);
    // The agent speaks plain HTTP to the proxy, at the endpoint's own port.
    expect(egress.agentEndpoint.baseUrl).toBe("http://gateway.example.test:443/anthropic");
  });

  it("keys OpenCode's hosted models (provider `opencode`) on each of their APIs with its own header, other providers as the main endpoint", () => {
    const egress = sandboxEgressFor(
      { baseUrl: "http://127.0.0.1:4100", apiKey: "sk-main" },
      createOpenCodeArchitecture(),
      agentProfileSchema.parse({ id: "p", name: "P" }),
      {
        opencode: { baseUrl: "https://opencode.ai/zen/v1", apiKey: "zen-key" },
        other: { baseUrl: "https://other.example.test/v1", apiKey: "other-key" },
      },
    );
    const zen = { endpoint: "opencode.ai:443", tls: true };
    expect(egress.network.secrets).toEqual([
      expect.objectContaining({ endpoint: "127.0.0.1:4100", value: "Bearer sk-main" }),
      {
        ...zen,
        header: "authorization",
        value: "Bearer zen-key",
        paths: ["POST /zen/v1/chat/completions", "POST /zen/v1/responses", "GET /zen/v1/models"],
      },
      { ...zen, header: "x-api-key", value: "zen-key", paths: ["POST /zen/v1/messages"] },
      { ...zen, header: "x-goog-api-key", value: "zen-key", paths: ["/zen/v1/models"] },
      {
        endpoint: "other.example.test:443",
        tls: true,
        header: "authorization",
        value: "Bearer other-key",
        paths: ["POST /v1/chat/completions", "GET /v1/models"],
      },
    ]);
    expect(egress.providerEndpoints).toEqual({
      opencode: { baseUrl: "http://opencode.ai:443/zen/v1", apiKey: PLACEHOLDER_API_KEY },
      other: { baseUrl: "http://other.example.test:443/v1", apiKey: PLACEHOLDER_API_KEY },
    });
  });

  it("injects the key for a generic ACP agent (any tenant's session may choose one) on model calls only, never on the endpoint's other uses", () => {
    const egress = sandboxEgressFor(
      { baseUrl: "https://gateway.example.test/llm", apiKey: "sk-real" },
      createAcpArchitecture(),
      profile,
    );
    const [secret] = egress.network.secrets;
    expect(secret).toMatchObject({
      endpoint: "gateway.example.test:443",
      header: "authorization",
      value: "Bearer sk-real",
    });
    // Anthropic's Messages API and OpenAI's chat completions and Responses API, and the model lists: nothing else
    // (files, batches, fine-tuning, key or model management) goes out with the operator's key.
    expect(secret?.paths).toEqual([
      "POST /llm/v1/messages",
      "POST /llm/v1/messages/count_tokens",
      "POST /llm/v1/chat/completions",
      "POST /llm/v1/responses",
      "GET /llm/v1/models",
    ]);
    expect(egress.network.secrets).toHaveLength(1);
  });

  it("defaults to Anthropic's API and never passes a key that was not configured", () => {
    const egress = sandboxEgressFor({}, createClaudeAgentSdkArchitecture(), profile);
    expect(egress.network.allow[0]).toBe("api.anthropic.com:443");
    expect(egress.network.secrets).toEqual([]);
    expect(egress.agentEndpoint.apiKey).toBeUndefined();
  });
});
