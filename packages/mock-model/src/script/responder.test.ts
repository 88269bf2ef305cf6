import { describe, expect, it } from "vitest";
import { MockModelError } from "../errors.js";
import { type Conversation, describeConversation, type Turn } from "./conversation.js";
import { parseScript } from "./parse-script.js";
import { createResponder } from "./responder.js";
import type { ScriptInput } from "./schema.js";

const user = (text: string): Turn => ({ role: "user", text, toolResults: [] });
const assistant: Turn = { role: "assistant", text: "", toolResults: [] };
const toolResult = (text: string): Turn => ({ role: "user", text: "", toolResults: [text] });

function conversation(
  turns: Turn[],
  extra: Partial<Parameters<typeof describeConversation>[0]> = {},
): Conversation {
  return describeConversation({
    model: "claude-test",
    systemPrompt: "",
    tools: ["Write", "Bash", "Agent"],
    turns,
    maxTokens: 1000,
    inputChars: 400,
    ...extra,
  });
}

function responder(script: ScriptInput, demo = false) {
  return createResponder(parseScript(script), { demo });
}

const writeThenBash: ScriptInput = [
  {
    name: "build",
    match: { prompt: "build it" },
    replies: [
      { tool: "Write", input: { file_path: "{{cwd}}/a.txt", content: "A" } },
      { tool: "Bash", input: { command: "cat a.txt" } },
      "Built: {{prompt}}",
    ],
  },
];

describe("multi-step rules", () => {
  const answer = responder(writeThenBash);

  it("derives the step from the assistant turns after the prompt", () => {
    const system = "Primary working directory: /work/x";
    const steps = [
      answer(conversation([user("please build it")], { systemPrompt: system })),
      answer(conversation([user("please build it"), assistant, toolResult("ok")], { systemPrompt: system })),
      answer(
        conversation([user("please build it"), assistant, toolResult("ok"), assistant, toolResult("A")]),
      ),
    ];
    expect(steps.map((step) => step.response.blocks)).toEqual([
      [
        {
          type: "tool_use",
          id: expect.any(String),
          name: "Write",
          input: { file_path: "/work/x/a.txt", content: "A" },
        },
      ],
      [{ type: "tool_use", id: expect.any(String), name: "Bash", input: { command: "cat a.txt" } }],
      [{ type: "text", text: "Built: please build it" }],
    ]);
    expect(steps.map((step) => step.response.stopReason)).toEqual(["tool_use", "tool_use", "end_turn"]);
    expect(steps.map((step) => step.matched)).toEqual(["build", "build", "build"]);
  });

  it("starts over at a new prompt and is stateless (same request, same answer and ids)", () => {
    const earlier = [
      user("please build it"),
      assistant,
      toolResult("ok"),
      assistant,
      toolResult("A"),
      assistant,
    ];
    const again = conversation([...earlier, user("build it again")]);
    expect(answer(again).response.blocks[0]).toMatchObject({ type: "tool_use", name: "Write" });
    expect(answer(again)).toEqual(answer(again));
    const first = answer(conversation([user("please build it")])).response.blocks[0];
    expect(first).not.toEqual(answer(again).response.blocks[0]);
  });

  it("counts consecutive assistant messages as one turn and ignores system turns and reminders", () => {
    const turns: Turn[] = [
      { role: "system", text: "env", toolResults: [] },
      user("please build it"),
      { role: "system", text: "deferred tools", toolResults: [] },
      assistant,
      assistant,
      toolResult("ok"),
      user(""),
    ];
    const result = conversation(turns);
    expect(result.position).toBe(1);
    expect(result.system).toBe("env\n\ndeferred tools");
    expect(answer(result).response.blocks[0]).toMatchObject({ name: "Bash" });
  });

  it("no longer matches once its replies are used up", () => {
    const turns = [
      user("build it"),
      assistant,
      toolResult(""),
      assistant,
      toolResult(""),
      assistant,
      toolResult(""),
    ];
    expect(answer(conversation(turns)).source).toBe("fallback");
  });
});

describe("matching", () => {
  it("supports regexes, tool results, system, model and offered tools", () => {
    const answer = responder({
      rules: [
        {
          name: "regex",
          match: { prompt: { regex: "^deploy (prod|staging)$", flags: "i" } },
          reply: "deploying",
        },
        { name: "failed", match: { toolResult: { regex: "exit code [1-9]" } }, reply: "the command failed" },
        { name: "system", match: { system: "pirate" }, reply: "arr" },
        {
          name: "model",
          match: { model: { regex: "haiku" }, toolOffered: "Bash" },
          reply: "haiku with bash",
        },
      ],
    });
    expect(answer(conversation([user("Deploy PROD")])).matched).toBe("regex");
    expect(answer(conversation([user("go"), assistant, toolResult("exit code 2")])).matched).toBe("failed");
    expect(answer(conversation([user("go"), assistant, toolResult("exit code 0")])).source).toBe("fallback");
    expect(answer(conversation([user("hi")], { systemPrompt: "You are a pirate." })).matched).toBe("system");
    expect(answer(conversation([user("hi")], { model: "claude-haiku-4-5" })).matched).toBe("model");
    expect(answer(conversation([user("hi")], { model: "claude-haiku-4-5", tools: [] })).source).toBe(
      "fallback",
    );
  });

  it("answers unmatched requests with a recognizable fallback, or the script's own", () => {
    const fallback = responder([]).call(null, conversation([user("anything")]));
    expect(fallback).toMatchObject({ source: "fallback", matched: "fallback" });
    expect(fallback.response.blocks).toEqual([
      { type: "text", text: '[mock-model] No script rule matched (position 0) for the prompt: "anything"' },
    ]);
    const custom = responder({ rules: [], fallback: "custom" })(conversation([user("anything")]));
    expect(custom.response.blocks).toEqual([{ type: "text", text: "custom" }]);
  });

  it("maps Task to Agent (and back) when only the alias is offered", () => {
    const answer = responder([{ match: {}, reply: { tool: "Task", input: { prompt: "p" } } }]);
    expect(answer(conversation([user("x")])).response.blocks[0]).toMatchObject({ name: "Agent" });
    expect(answer(conversation([user("x")], { tools: ["Task"] })).response.blocks[0]).toMatchObject({
      name: "Task",
    });
  });

  it("applies pacing defaults and scripted usage", () => {
    const answer = responder({
      defaults: { chunkDelayMs: 5, chunkSize: 3 },
      rules: [{ reply: { steps: ["hi"], chunkSize: 10, usage: { outputTokens: 42 } } }],
    });
    expect(answer(conversation([user("x")])).response).toMatchObject({
      chunkDelayMs: 5,
      chunkSize: 10,
      usage: { inputTokens: 100, outputTokens: 42 },
    });
  });
});

describe("side requests", () => {
  const answer = responder([{ match: { prompt: "create notes" }, replies: [{ tool: "Write", input: {} }] }]);
  const claudeCode =
    "x-anthropic-billing-header: cc_version=2.1; You are a Claude agent, built on Anthropic's Claude Agent SDK.";

  it("answers Claude Code's title request without consuming the script", () => {
    const title = answer(
      conversation([user("<session>\ncreate notes please\n</session>\n\nWrite the title")], {
        systemPrompt: `${claudeCode}\nYou are naming a coding session. Return JSON with a single "title" field.`,
        tools: [],
      }),
    );
    expect(title).toMatchObject({ source: "side", matched: "title" });
    expect(title.response.blocks).toEqual([{ type: "text", text: '{"title":"Create notes please"}' }]);
  });

  it("answers probes with max_tokens 1, but leaves other tool-less requests to the script", () => {
    expect(answer(conversation([user("quota")], { maxTokens: 1 })).matched).toBe("quota-probe");
    const plain = answer(conversation([user("create notes")], { systemPrompt: "Write a title", tools: [] }));
    expect(plain.source).toBe("script");
  });
});

describe("demo mode", () => {
  const answer = responder([], true);
  const system = "Primary working directory: /home/demo";

  it("introduces itself", () => {
    const intro = answer(conversation([user("hello")]));
    expect(intro.source).toBe("demo");
    expect(intro.response.blocks[0]).toMatchObject({
      type: "text",
      text: expect.stringContaining("demo model"),
    });
  });

  it("creates a file, runs a command, delegates to a subagent and thinks", () => {
    const file = answer(conversation([user("Create a file please")], { systemPrompt: system })).response
      .blocks;
    expect(file[1]).toMatchObject({ name: "Write", input: { file_path: "/home/demo/hello.txt" } });
    const command = answer(conversation([user("run a command")])).response.blocks;
    expect(command[1]).toMatchObject({ name: "Bash" });
    const delegate = answer(conversation([user("use a subagent")])).response.blocks;
    expect(delegate[1]).toMatchObject({
      name: "Agent",
      input: { prompt: expect.stringContaining("Demo subagent task") },
    });
    const prompt = (delegate[1] as { input: { prompt: string } }).input.prompt;
    expect(answer(conversation([user(prompt)])).response.blocks[1]).toMatchObject({ name: "Bash" });
    const thought = answer(conversation([user("think hard")])).response.blocks;
    expect(thought.map((block) => block.type)).toEqual(["thinking", "text"]);
  });

  it("lets the script's rules come first", () => {
    const scripted = responder([{ match: { prompt: "hello" }, reply: "scripted" }], true);
    expect(scripted(conversation([user("hello")])).source).toBe("script");
  });
});

describe("script validation", () => {
  it("rejects malformed scripts with a readable error", () => {
    expect(() => parseScript({ rules: [{ replies: [{ tool: "" }] }] })).toThrow(MockModelError);
    expect(() => parseScript([{ match: { prompt: { regex: "(" } }, reply: "x" }])).toThrow(
      /invalid regular expression/,
    );
  });
});
