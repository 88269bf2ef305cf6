import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockModel, startMockModel } from "../server.js";

let model: MockModel;
let client: OpenAI;

beforeAll(async () => {
  model = await startMockModel({
    demo: true,
    script: [
      {
        name: "list",
        match: { prompt: "list files" },
        replies: [
          [
            { thinking: "Listing first." },
            "Listing.",
            { tool: "exec_command", input: { cmd: "ls", workdir: "{{cwd}}" } },
          ],
          "Two files.",
        ],
      },
      {
        name: "patch",
        match: { prompt: "patch it" },
        reply: [{ tool: "apply_patch", input: { input: "*** Begin Patch\n*** End Patch" } }],
      },
    ],
  });
  client = new OpenAI({ baseURL: `${model.url}/v1`, apiKey: "test-key", maxRetries: 0 });
});
afterAll(() => model.close());

const tools: OpenAI.Responses.Tool[] = [
  { type: "function", name: "exec_command", parameters: { type: "object", properties: {} }, strict: false },
];
/** Codex's context message, which is not the prompt. */
const environment: OpenAI.Responses.ResponseInputItem = {
  type: "message",
  role: "user",
  content: [
    { type: "input_text", text: "<environment_context>\n  <cwd>/work/space</cwd>\n</environment_context>" },
  ],
};
const ask: OpenAI.Responses.ResponseInputItem = {
  type: "message",
  role: "user",
  content: [{ type: "input_text", text: "Please list files" }],
};

describe("POST /v1/responses", () => {
  it("streams reasoning, text and a function call with their done events, then the completed response", async () => {
    const stream = await client.responses.create({
      model: "gpt-test",
      instructions: "You are terse.",
      input: [environment, ask],
      tools,
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    let reasoning = "";
    let args = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.reasoning_summary_text.delta") reasoning += event.delta;
      if (event.type === "response.function_call_arguments.delta") args += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types.filter((type) => type === "response.output_item.done")).toHaveLength(3);
    expect(reasoning).toBe("Listing first.");
    expect(text).toBe("Listing.");
    // `{{cwd}}` is Codex's `<cwd>`, from its context message.
    expect(JSON.parse(args)).toEqual({ cmd: "ls", workdir: "/work/space" });
    const call = completed?.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ name: "exec_command", arguments: args });
    expect(completed?.usage?.output_tokens).toBeGreaterThan(0);
    expect(model.requests.at(-1)).toMatchObject({
      matched: "list",
      system: expect.stringContaining("You are terse."),
    });
  });

  it("answers the next position after the function call's output", async () => {
    const response = await client.responses.create({
      model: "gpt-test",
      input: [
        ask,
        { type: "function_call", call_id: "call_1", name: "exec_command", arguments: "{}" },
        { type: "function_call_output", call_id: "call_1", output: "a.txt\nb.txt" },
      ],
      tools,
    });
    expect(response.output_text).toBe("Two files.");
  });

  it("sends a call of a freeform (custom) tool as raw input", async () => {
    const response = await client.responses.create({
      model: "gpt-test",
      input: "patch it",
      tools: [{ type: "custom", name: "apply_patch" }],
    });
    expect(response.output[0]).toMatchObject({
      type: "custom_tool_call",
      name: "apply_patch",
      input: "*** Begin Patch\n*** End Patch",
    });
  });

  it("runs the demo's file rule with Codex's exec_command", async () => {
    const response = await client.responses.create({ model: "gpt-test", input: "create a file", tools });
    const call = response.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ name: "exec_command" });
    expect(JSON.parse((call as { arguments: string }).arguments).cmd).toContain("hello.txt");
  });

  it("refuses a body without input with OpenAI's error shape", async () => {
    const reply = await fetch(`${model.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m" }),
    });
    expect(reply.status).toBe(400);
    expect(await reply.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });
});
