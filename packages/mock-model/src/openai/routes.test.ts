import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockModel, startMockModel } from "../server.js";

let model: MockModel;
let client: OpenAI;

beforeAll(async () => {
  model = await startMockModel({
    script: [
      {
        match: { prompt: "list files" },
        replies: [
          [
            "Listing.",
            { tool: "bash", input: { command: "ls" } },
            { tool: "bash", input: { command: "pwd" } },
          ],
          "Two files.",
        ],
      },
    ],
  });
  client = new OpenAI({ baseURL: `${model.url}/v1`, apiKey: "test-key", maxRetries: 0 });
});
afterAll(() => model.close());

const tools: OpenAI.ChatCompletionTool[] = [
  {
    type: "function",
    function: { name: "bash", parameters: { type: "object", properties: { command: { type: "string" } } } },
  },
];
const ask: OpenAI.ChatCompletionMessageParam = { role: "user", content: "Please list files" };

describe("POST /v1/chat/completions", () => {
  it("streams content and tool-call deltas, the finish reason, usage and [DONE]", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "system", content: "You are terse." }, ask],
      tools,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    const calls: { id?: string; name?: string; arguments: string }[] = [];
    const finishReasons: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      usage ??= chunk.usage;
      for (const choice of chunk.choices) {
        content += choice.delta.content ?? "";
        finishReasons.push(choice.finish_reason);
        for (const call of choice.delta.tool_calls ?? []) {
          calls[call.index] ??= { arguments: "" };
          const target = calls[call.index]!;
          if (call.id) target.id = call.id;
          if (call.function?.name) target.name = call.function.name;
          target.arguments += call.function?.arguments ?? "";
        }
      }
    }
    expect(content).toBe("Listing.");
    expect(calls.map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([
      ["bash", { command: "ls" }],
      ["bash", { command: "pwd" }],
    ]);
    expect(finishReasons.filter(Boolean)).toEqual(["tool_calls"]);
    expect(usage?.total_tokens).toBeGreaterThan(0);
    expect(model.requests.at(-1)).toMatchObject({
      api: "openai",
      system: "You are terse.",
      tools: ["bash"],
      stream: true,
    });
  });

  it("answers the tool results with the next step, without streaming", async () => {
    const first = await client.chat.completions.create({ model: "gpt-test", messages: [ask], tools });
    const message = first.choices[0]!.message;
    expect(first.choices[0]!.finish_reason).toBe("tool_calls");
    const second = await client.chat.completions.create({
      model: "gpt-test",
      tools,
      messages: [
        ask,
        message,
        ...(message.tool_calls ?? []).map((call) => ({
          role: "tool" as const,
          tool_call_id: call.id,
          content: "a b",
        })),
      ],
    });
    expect(second.choices[0]).toMatchObject({
      finish_reason: "stop",
      message: { role: "assistant", content: "Two files." },
    });
    expect(second.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it("lists models and rejects malformed bodies in OpenAI's error shape", async () => {
    expect((await client.models.list()).data.map((m) => m.id)).toContain("mock-model");
    const error = await client.chat.completions
      .create({ model: "gpt-test", messages: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      message: expect.stringContaining("messages"),
      type: "invalid_request_error",
    });
    const invalidJson = await fetch(`${model.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(invalidJson.status).toBe(400);
    expect(await invalidJson.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });
});
