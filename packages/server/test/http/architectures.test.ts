import { type ListArchitecturesResponse, listArchitecturesResponseSchema } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClaudeAgentSdkArchitecture, createOpenCodeArchitecture } from "../../src/index.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const KEY = "architectures-key";

describe("GET /agent-architectures", () => {
  let server: TestServer;
  const get = (path: string, key: string | null = KEY) =>
    fetch(`${server.url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});

  beforeAll(async () => {
    const opencode = createOpenCodeArchitecture();
    server = await startTestServer({
      apiKeys: [KEY],
      runtime: {
        architectures: [
          createClaudeAgentSdkArchitecture(),
          {
            ...opencode,
            capabilities: { thinking: false, subagents: false, permissions: false, nativeResume: false },
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("answers the architectures the server runs with the capabilities they declare", async () => {
    const response = await get("/agent-architectures");
    expect(response.status).toBe(200);
    const body = (await response.json()) as ListArchitecturesResponse;
    expect(listArchitecturesResponseSchema.parse(body)).toEqual(body);
    expect(body).toEqual({
      architectures: [
        {
          id: "claude-agent-sdk",
          capabilities: { thinking: true, subagents: true, permissions: true, nativeResume: true },
        },
        {
          id: "opencode",
          capabilities: { thinking: false, subagents: false, permissions: false, nativeResume: false },
        },
      ],
    });
  });

  it("needs an API key like the other routes", async () => {
    const response = await get("/agent-architectures", null);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
  });

  it("is documented in the OpenAPI document", async () => {
    const doc = (await (await get("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(doc.paths["/agent-architectures"]).toHaveProperty("get");
  });
});
