import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Options, query, type SDKMessage, type SDKUserMessage } from "@anthropic-ai/claude-agent-sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type MockModel, type ScriptInput, startMockModel } from "../src/index.js";

/**
 * Drives the real Claude Code binary (shipped with the Agent SDK) against
 * the mock model. Claude Code refuses `bypassPermissions` as root, so tools
 * are allowed through `canUseTool` in the default permission mode.
 */
const script: ScriptInput = [
  {
    name: "write then cat",
    match: { prompt: "create notes.txt" },
    replies: [
      { tool: "Write", input: { file_path: "{{cwd}}/notes.txt", content: "mock notes\n" } },
      { tool: "Bash", input: { command: "cat notes.txt", description: "Show the file" } },
      "The file says: mock notes",
    ],
  },
  {
    name: "delegate",
    match: { prompt: "delegate the listing" },
    replies: [
      {
        tool: "Task",
        input: {
          description: "List files",
          prompt: "SUBTASK: list the working directory",
          subagent_type: "general-purpose",
          run_in_background: false,
        },
      },
      "The subagent is done.",
    ],
  },
  {
    name: "subagent",
    match: { prompt: "SUBTASK: list the working directory" },
    replies: [
      { tool: "Bash", input: { command: "ls", description: "List files" } },
      "Subagent report: listed.",
    ],
  },
  { name: "second turn", match: { prompt: "and now?" }, reply: "Second answer." },
];

let model: MockModel;
let home: string;
let cwd: string;

beforeAll(async () => {
  model = await startMockModel({ script });
  home = await mkdtemp(join(tmpdir(), "mock-model-home-"));
  cwd = await mkdtemp(join(tmpdir(), "mock-model-cwd-"));
});
afterAll(async () => {
  await model.close();
  await rm(home, { recursive: true, force: true });
  await rm(cwd, { recursive: true, force: true });
});
beforeEach(() => model.clearRequests());

function options(): Options {
  return {
    cwd,
    permissionMode: "default",
    canUseTool: async (_name, input) => ({ behavior: "allow", updatedInput: input }),
    env: { ...process.env, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "test-key", HOME: home },
  };
}

async function collect(prompt: Parameters<typeof query>[0]["prompt"]): Promise<SDKMessage[]> {
  const messages: SDKMessage[] = [];
  for await (const message of query({ prompt, options: options() })) messages.push(message);
  return messages;
}

function results(messages: SDKMessage[]): (string | undefined)[] {
  return messages.flatMap((m) =>
    m.type === "result" ? [m.subtype === "success" ? m.result : m.subtype] : [],
  );
}

/** The model calls of the conversation (not side requests), as `matched` names. */
function conversationCalls(): (string | undefined)[] {
  return model.requests
    .filter((r) => r.path.startsWith("/v1/messages") && r.source !== "side")
    .map((r) => r.matched);
}

describe("Claude Code against the mock model", () => {
  it("writes a file, cats it and answers; the title side request does not disturb the script", async () => {
    const messages = await collect("Please create notes.txt for me");

    expect(await readFile(join(cwd, "notes.txt"), "utf8")).toBe("mock notes\n");
    expect(results(messages)).toEqual(["The file says: mock notes"]);
    expect(conversationCalls()).toEqual(["write then cat", "write then cat", "write then cat"]);
    const bashResult = JSON.stringify(model.requests.at(-1)?.messages.at(-1));
    expect(bashResult).toContain("mock notes");
    const side = model.requests.filter((r) => r.source === "side");
    expect(side.map((r) => r.matched)).toEqual(["title"]);
    expect(side[0]?.tools).toEqual([]);
    const main = model.requests.find((r) => r.matched === "write then cat");
    expect(main?.tools).toEqual(expect.arrayContaining(["Agent", "Bash", "Write"]));
  });

  it("runs a subagent through the Agent tool, matched by the prompt given to it", async () => {
    const messages = await collect("Please delegate the listing");

    expect(results(messages)).toEqual(["The subagent is done."]);
    expect(conversationCalls()).toEqual(["delegate", "subagent", "subagent", "delegate"]);
    const agentCall = messages.find(
      (m) =>
        m.type === "assistant" && m.message.content.some((b) => b.type === "tool_use" && b.name === "Agent"),
    );
    expect(agentCall).toBeDefined();
    expect(messages.some((m) => m.type === "assistant" && m.parent_tool_use_id !== null)).toBe(true);
  });

  it("answers each turn of a streaming-input session from the latest prompt", async () => {
    let firstDone!: () => void;
    const firstResult = new Promise<void>((resolve) => {
      firstDone = resolve;
    });
    const user = (text: string): SDKUserMessage => ({
      type: "user",
      message: { role: "user", content: text },
      parent_tool_use_id: null,
    });
    async function* prompts(): AsyncGenerator<SDKUserMessage> {
      yield user("Please create notes.txt again");
      await firstResult;
      yield user("and now?");
    }
    const messages: SDKMessage[] = [];
    for await (const message of query({ prompt: prompts(), options: options() })) {
      messages.push(message);
      if (message.type === "result") {
        if (results(messages).length === 1) firstDone();
        else break;
      }
    }
    expect(results(messages)).toEqual(["The file says: mock notes", "Second answer."]);
    expect(conversationCalls()).toEqual([
      "write then cat",
      "write then cat",
      "write then cat",
      "second turn",
    ]);
  });

  it("is driven by the demo model: creates a file and delegates to a subagent", async () => {
    const demo = await startMockModel({ demo: true });
    try {
      const run = async (prompt: string) => {
        const messages: SDKMessage[] = [];
        const env = { ...options().env, ANTHROPIC_BASE_URL: demo.url };
        for await (const message of query({ prompt, options: { ...options(), env } })) messages.push(message);
        return results(messages);
      };
      expect(await run("create a file")).toEqual([expect.stringContaining("I created `hello.txt`")]);
      expect(await readFile(join(cwd, "hello.txt"), "utf8")).toContain("demo model");
      expect(await run("use a subagent")).toEqual([expect.stringContaining("The subagent finished")]);
      expect(demo.requests.map((r) => r.matched).filter((name) => name?.startsWith("demo:"))).toEqual([
        "demo: create a file",
        "demo: create a file",
        "demo: use a subagent",
        "demo: subagent task",
        "demo: subagent task",
        "demo: use a subagent",
      ]);
    } finally {
      await demo.close();
    }
  });
});
