import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { query, type SDKMessage } from "@anthropic-ai/claude-agent-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockModel, type ScriptInput, startMockModel } from "../src/index.js";

/**
 * Records a tool-use turn of the real Claude Code through the recorder (the
 * upstream is a scripted mock model), then replays it with the upstream
 * stopped. The same working directory is used both times, so the prompts
 * are equal and every conversation request matches its entry exactly.
 */
const script: ScriptInput = [
  {
    name: "write then cat",
    match: { prompt: "create notes.txt" },
    replies: [
      { tool: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "recorded notes\n" } },
      { tool: "Bash", input: { command: "cat notes.txt", description: "Show the file" } },
      "The file says: recorded notes",
    ],
  },
];
const CANARY_KEY = "sk-ant-canary-claude-code-7e3f9a1b";

let dir: string;
let cwd: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mock-model-replay-"));
  cwd = await mkdtemp(join(tmpdir(), "mock-model-replay-cwd-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(cwd, { recursive: true, force: true });
});

async function runClaudeCode(model: MockModel, home: string): Promise<(string | undefined)[]> {
  const results: (string | undefined)[] = [];
  const messages = query({
    prompt: "Please create notes.txt for me",
    options: {
      cwd,
      permissionMode: "default",
      canUseTool: async (_name, input) => ({ behavior: "allow", updatedInput: input }),
      env: { ...process.env, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: CANARY_KEY, HOME: home },
    },
  });
  for await (const message of messages as AsyncIterable<SDKMessage>) {
    if (message.type === "result")
      results.push(message.subtype === "success" ? message.result : message.subtype);
  }
  return results;
}

describe("Claude Code against a cassette", () => {
  it("records a tool-use turn, then completes it from the cassette with the upstream stopped", async () => {
    const cassette = join(dir, "claude-code.json");
    const upstream = await startMockModel({ script });
    const recorder = await startMockModel({ record: { upstream: upstream.url, cassette } });
    try {
      expect(await runClaudeCode(recorder, await mkdtemp(join(dir, "home-")))).toEqual([
        "The file says: recorded notes",
      ]);
    } finally {
      await recorder.close();
      await upstream.close();
    }
    const recorded = upstream.requests.filter((request) => request.matched === "write then cat");
    expect(recorded).toHaveLength(3);
    const text = await readFile(cassette, "utf8");
    expect(text).not.toContain(CANARY_KEY);

    await rm(join(cwd, "notes.txt"));
    const replay = await startMockModel({ replay: cassette });
    try {
      expect(await runClaudeCode(replay, await mkdtemp(join(dir, "home-")))).toEqual([
        "The file says: recorded notes",
      ]);
    } finally {
      await replay.close();
    }
    expect(await readFile(join(cwd, "notes.txt"), "utf8")).toBe("recorded notes\n");
    const conversation = replay.requests.filter((request) => request.tools.includes("Write"));
    expect(conversation.map((request) => request.matched?.split(" ")[0])).toEqual([
      "exact",
      "exact",
      "exact",
    ]);
    expect(replay.requests.every((request) => request.source === "cassette")).toBe(true);
  });
});
