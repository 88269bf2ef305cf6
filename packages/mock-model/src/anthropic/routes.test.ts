import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ChunkEvent } from "../http/hooks.js";
import type { RecordedRequest } from "../http/request-log.js";
import { type MockModel, startMockModel } from "../server.js";

const events: { requests: RecordedRequest[]; chunks: ChunkEvent[] } = { requests: [], chunks: [] };
let model: MockModel;
let client: Anthropic;

beforeAll(async () => {
  model = await startMockModel({
    script: [
      { match: { prompt: "slow" }, reply: { steps: ["abcdefghij"], chunkSize: 2, chunkDelayMs: 30 } },
      {
        match: { prompt: "weather" },
        replies: [
          [{ thinking: "Need the tool." }, "Checking.", { tool: "get_weather", input: { city: "Paris" } }],
          { steps: ["It is sunny in Paris."], usage: { inputTokens: 11, outputTokens: 7 }, chunkSize: 4 },
        ],
      },
    ],
    onRequest: (request) => events.requests.push(request),
    onChunk: (chunk) => events.chunks.push(chunk),
  });
  client = new Anthropic({ baseURL: model.url, apiKey: "test-key", maxRetries: 0 });
});
afterAll(() => model.close());
beforeEach(() => {
  model.clearRequests();
  events.requests.length = 0;
  events.chunks.length = 0;
});

const tools: Anthropic.Tool[] = [
  {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object", properties: { city: { type: "string" } } },
  },
];
const ask: Anthropic.MessageParam = { role: "user", content: "What is the weather in Paris?" };

describe("POST /v1/messages, streaming", () => {
  it("streams thinking, text and a tool call that the SDK assembles", async () => {
    const stream = client.messages.stream({ model: "claude-test", max_tokens: 1024, messages: [ask], tools });
    const message = await stream.finalMessage();

    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toEqual([
      { type: "thinking", thinking: "Need the tool.", signature: "mock-model-signature" },
      { type: "text", text: "Checking." },
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_mock_/),
        name: "get_weather",
        input: { city: "Paris" },
      },
    ]);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("writes the events in the order the API defines", async () => {
    const response = await fetch(`${model.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-test", max_tokens: 1024, stream: true, messages: [ask], tools }),
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const types: string[] = [];
    for (const frame of (await response.text()).split("\n\n").filter(Boolean)) {
      const [eventLine, dataLine] = frame.split("\n");
      const data = JSON.parse(dataLine!.slice("data: ".length));
      expect(eventLine).toBe(`event: ${data.type}`);
      const type = data.type === "content_block_delta" ? data.delta.type : data.type;
      if (type !== types.at(-1)) types.push(type);
    }
    expect(types).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "thinking_delta",
      "signature_delta",
      "content_block_stop",
      "content_block_start",
      "text_delta",
      "content_block_stop",
      "content_block_start",
      "input_json_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  it("takes the next scripted step when the tool result comes back, with the scripted usage and chunking", async () => {
    const first = await client.messages.create({
      model: "claude-test",
      max_tokens: 1024,
      messages: [ask],
      tools,
    });
    const toolUse = first.content.find((block) => block.type === "tool_use")!;
    const stream = await client.messages.create({
      model: "claude-test",
      max_tokens: 1024,
      stream: true,
      tools,
      messages: [
        ask,
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "sunny" }] },
      ],
    });
    let text = "";
    let usage: Anthropic.MessageDeltaUsage | undefined;
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
      if (event.type === "message_delta") usage = event.usage;
    }
    expect(text).toBe("It is sunny in Paris.");
    expect(usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    const textChunks = events.chunks.filter((chunk) => chunk.blockType === "text");
    expect(textChunks.map((chunk) => chunk.text)).toEqual(["It i", "s su", "nny ", "in P", "aris", "."]);
    expect(textChunks.every((chunk) => chunk.requestId === model.requests.at(-1)!.id)).toBe(true);
  });

  it("records each request and reports it with its arrival time", async () => {
    const before = performance.timeOrigin + performance.now();
    await client.messages.create({
      model: "claude-test",
      max_tokens: 5,
      system: "Be brief.",
      messages: [ask],
      tools,
    });
    expect(model.requests).toHaveLength(1);
    expect(model.requests[0]).toMatchObject({
      method: "POST",
      path: "/v1/messages",
      api: "anthropic",
      model: "claude-test",
      system: "Be brief.",
      tools: ["get_weather"],
      messages: [ask],
      stream: false,
      maxTokens: 5,
      source: "script",
      matched: "rule 1",
    });
    expect(events.requests).toEqual([model.requests[0]]);
    expect(model.requests[0]!.timestamp).toBeGreaterThanOrEqual(before);
  });
});

describe("pacing", () => {
  const slow = JSON.stringify({
    model: "claude-test",
    max_tokens: 100,
    stream: true,
    messages: [{ role: "user", content: "slow please" }],
  });
  const post = (signal?: AbortSignal) =>
    fetch(`${model.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: slow,
      signal,
    });

  it("waits chunkDelayMs before each chunk", async () => {
    await (await post()).text();
    const times = events.chunks.map((chunk) => chunk.timestamp);
    expect(times).toHaveLength(5);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(4 * 25);
  });

  it("stops writing when the client goes away", async () => {
    const abort = new AbortController();
    const response = await post(abort.signal);
    await response.body!.getReader().read();
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events.chunks.length).toBeLessThan(5);
  });
});

describe("POST /v1/messages, not streaming", () => {
  it("answers one JSON message; unmatched prompts get the fallback", async () => {
    const message = await client.messages.create({
      model: "claude-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello there" }],
    });
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-test",
      stop_reason: "end_turn",
    });
    expect(message.content[0]).toMatchObject({
      type: "text",
      text: expect.stringContaining("No script rule matched"),
    });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });
});

describe("other routes", () => {
  it("counts tokens and lists models", async () => {
    const count = await client.messages.countTokens({ model: "claude-test", messages: [ask] });
    expect(count.input_tokens).toBeGreaterThan(0);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("claude-sonnet-4-5");
  });

  it("answers malformed requests and unknown routes in Anthropic's error shape", async () => {
    const bad = await client.messages
      .create({ model: "claude-test", messages: "nope" } as never)
      .catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringContaining("messages") },
    });

    const invalidJson = await fetch(`${model.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(invalidJson.status).toBe(400);
    expect(await invalidJson.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error" },
    });

    const unknown = await fetch(`${model.url}/v1/nowhere`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });

  it("serves and clears the request log over HTTP", async () => {
    await client.messages.create({ model: "claude-test", max_tokens: 10, messages: [ask] });
    const listed = (await (await fetch(`${model.url}/_mock/requests`)).json()) as {
      requests: RecordedRequest[];
    };
    expect(listed.requests.map((r) => r.path)).toEqual(["/v1/messages"]);
    expect((await fetch(`${model.url}/_mock/requests`, { method: "DELETE" })).status).toBe(204);
    expect(model.requests).toHaveLength(0);
  });
});
