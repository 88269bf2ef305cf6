import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Sessions share one model endpoint (in demo mode, the in-process mock
 * model). Its request log, which holds every session's prompts, must not be
 * reachable from a sandbox: the real Claude Code's Bash tool asks the model
 * host for `/_mock/requests` (here served, as a worst case) and is refused
 * by the egress proxy.
 */
const SECRET = `secret plan ${Date.now()}`;
const script: ScriptInput = {
  rules: [
    {
      match: { prompt: "Read the model log" },
      replies: [
        {
          tool: "Bash",
          input: {
            command:
              'curl -s --max-time 5 -w " status=%{http_code}" -H "x-api-key: $ANTHROPIC_API_KEY" "$ANTHROPIC_BASE_URL/_mock/requests"',
            description: "Read the log",
          },
        },
        "Done.",
      ],
    },
  ],
};

async function runTurn(server: TestServer, sessionId: string, content: string): Promise<Block[]> {
  const recorder = new SocketRecorder(server.url);
  await recorder.join(sessionId, 0);
  await restClient(server.url).send(sessionId, content);
  await recorder.waitForTurns(1);
  recorder.close();
  return recorder.events.flatMap((e) => (e.type === "session:block:complete" ? [e.block] : []));
}

describe("the shared model's request log", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ script });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it("is refused to a sandbox, so no session sees another's prompts", async () => {
    const rest = restClient(server.url);
    await runTurn(server, await rest.createSession(), SECRET);
    expect(server.mock.requests.some((r) => JSON.stringify(r.messages).includes(SECRET))).toBe(true);

    const blocks = await runTurn(server, await rest.createSession(), "Read the model log");
    const result = blocks.find((b): b is Extract<Block, { type: "tool_result" }> => b.type === "tool_result");
    expect(result?.content).toContain("status=403");
    expect(result?.content).not.toContain(SECRET);
  });
});
