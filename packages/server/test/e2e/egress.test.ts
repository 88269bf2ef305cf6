import type { ScriptInput } from "@agent-runtime/mock-model";
import type { Block } from "@agent-runtime/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { PLACEHOLDER_API_KEY } from "../../src/core/model-egress.js";
import { restClient } from "../support/rest.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** What the agent sees of the model key, with restricted egress (the default) and with open egress. */
const script: ScriptInput = {
  rules: [
    {
      match: { prompt: "Show the key" },
      replies: [
        { tool: "Bash", input: { command: "printenv ANTHROPIC_API_KEY", description: "Key" } },
        "Shown.",
      ],
    },
  ],
};

async function keySeenByAgent(server: TestServer): Promise<string | undefined> {
  const rest = restClient(server.url);
  const sessionId = await rest.createSession();
  const recorder = new SocketRecorder(server.url);
  await recorder.join(sessionId, 0);
  await rest.send(sessionId, "Show the key");
  await recorder.waitForTurns(1);
  recorder.close();
  const result = recorder.events.flatMap((e) =>
    e.type === "session:block:complete" && e.block.type === "tool_result" ? [e.block] : [],
  )[0] as Extract<Block, { type: "tool_result" }> | undefined;
  return result?.content.trim();
}

describe("sandbox egress and the model key", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.dispose();
  });

  it("restricted (default): the agent holds a placeholder and still reaches the model", async () => {
    server = await startTestServer({ script });
    expect(await keySeenByAgent(server)).toBe(PLACEHOLDER_API_KEY);
  });

  it("open: the agent gets the configured key", async () => {
    server = await startTestServer({ script, runtime: { egress: "open" } });
    expect(await keySeenByAgent(server)).toBe("test-model-key");
  });
});
