import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockModelError } from "../errors.js";
import { startMockModel } from "../server.js";
import { NO_CASSETTE_ENTRY } from "./player.js";
import type { Cassette } from "./schema.js";

/**
 * Records conversations through the recorder (upstream: a scripted mock
 * model on loopback) with the official SDKs, then replays the cassette with
 * the upstream closed and expects the SDKs to see the same results.
 */
const ANTHROPIC_CANARY = "sk-ant-canary-5f1d2c3b4a596877";
const OPENAI_CANARY = "sk-openai-canary-0a9b8c7d6e5f4321";

let dir: string;
let cassettePath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mock-model-cassette-"));
  cassettePath = join(dir, "conversation.json");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const upstreamScript = [
  {
    match: { prompt: "weather" },
    replies: [
      [{ thinking: "Need the tool." }, "Checking.", { tool: "get_weather", input: { city: "Paris" } }],
      "It is sunny in Paris.",
    ],
  },
  {
    match: { prompt: "list files" },
    replies: [["Listing.", { tool: "bash", input: { command: "ls" } }], "Two files."],
  },
  { match: { prompt: "slow" }, reply: { steps: ["abcdefghij"], chunkSize: 2, chunkDelayMs: 60 } },
];

const anthropicTools: Anthropic.Tool[] = [
  {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object", properties: { city: { type: "string" } } },
  },
];
const openAiTools: OpenAI.ChatCompletionTool[] = [
  {
    type: "function",
    function: { name: "bash", parameters: { type: "object", properties: { command: { type: "string" } } } },
  },
];

function anthropic(url: string): Anthropic {
  return new Anthropic({ baseURL: url, apiKey: ANTHROPIC_CANARY, maxRetries: 0 });
}
function openai(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: OPENAI_CANARY, maxRetries: 0 });
}

/** A streamed tool call, its result answered without streaming, and the model list. */
async function anthropicConversation(url: string) {
  const client = anthropic(url);
  const ask: Anthropic.MessageParam = {
    role: "user",
    content: [
      { type: "text", text: "What is the weather in Paris?" },
      { type: "text", text: "<system-reminder>volatile, e.g. a timestamp</system-reminder>" },
    ],
  };
  const stream = client.messages.stream({
    model: "claude-test",
    max_tokens: 1024,
    messages: [ask],
    tools: anthropicTools,
  });
  const events: string[] = [];
  stream.on("streamEvent", (event) => events.push(event.type));
  const first = await stream.finalMessage();
  const toolUse = first.content.find((block) => block.type === "tool_use");
  const second = await client.messages.create({
    model: "claude-test",
    max_tokens: 1024,
    tools: anthropicTools,
    messages: [
      ask,
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse!.id, content: "sunny, 24°C" }] },
    ],
  });
  const models = await client.models.list();
  return { events, first, second, models: models.data.map((model) => model.id) };
}

/** A streamed completion with a tool call and usage, then the tool result without streaming. */
async function openAiConversation(url: string) {
  const client = openai(url);
  const ask: OpenAI.ChatCompletionMessageParam = { role: "user", content: "Please list files" };
  const stream = await client.chat.completions.create({
    model: "gpt-test",
    messages: [{ role: "system", content: "You are terse." }, ask],
    tools: openAiTools,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const call = chunks.flatMap((chunk) =>
    chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []),
  )[0]!;
  const second = await client.chat.completions.create({
    model: "gpt-test",
    tools: openAiTools,
    messages: [
      ask,
      {
        role: "assistant",
        content: "Listing.",
        tool_calls: [
          { id: call.id!, type: "function", function: { name: "bash", arguments: '{"command":"ls"}' } },
        ],
      },
      { role: "tool", tool_call_id: call.id!, content: "a.txt b.txt" },
    ],
  });
  return { chunks, second };
}

async function timeStreamed(url: string, prompt: string): Promise<{ firstDeltaMs: number; totalMs: number }> {
  const started = performance.now();
  let firstDeltaMs = -1;
  const stream = anthropic(url).messages.stream({
    model: "claude-test",
    max_tokens: 100,
    messages: [{ role: "user", content: prompt }],
  });
  stream.on("text", () => {
    if (firstDeltaMs < 0) firstDeltaMs = performance.now() - started;
  });
  await stream.finalMessage();
  return { firstDeltaMs, totalMs: performance.now() - started };
}

describe("record, then replay with the upstream closed", () => {
  let recorded: {
    anthropic: Awaited<ReturnType<typeof anthropicConversation>>;
    openai: Awaited<ReturnType<typeof openAiConversation>>;
  };
  let recordTiming: { firstDeltaMs: number; totalMs: number };

  beforeAll(async () => {
    const upstream = await startMockModel({ script: upstreamScript });
    const recorder = await startMockModel({ record: { upstream: upstream.url, cassette: cassettePath } });
    try {
      recorded = {
        anthropic: await anthropicConversation(recorder.url),
        openai: await openAiConversation(recorder.url),
      };
      recordTiming = await timeStreamed(recorder.url, "slow please");
      expect(upstream.requests.map((request) => request.path)).toEqual([
        "/v1/messages",
        "/v1/messages",
        "/v1/models",
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/messages",
      ]);
      expect(recorder.requests.map((request) => [request.source, request.matched])).toEqual(
        [1, 2, 3, 4, 5, 6].map((n) => ["upstream", `cassette #${n}`]),
      );
    } finally {
      await recorder.close();
      await upstream.close();
    }
  });

  it("streams the upstream's answer through as it arrives", () => {
    expect(recorded.anthropic.first.stop_reason).toBe("tool_use");
    expect(recorded.anthropic.second.content).toEqual([{ type: "text", text: "It is sunny in Paris." }]);
    // 5 chunks, 60 ms apart: the first arrives long before the last.
    expect(recordTiming.firstDeltaMs).toBeLessThan(recordTiming.totalMs - 150);
  });

  it("writes a versioned cassette without keys or auth headers", async () => {
    const text = await readFile(cassettePath, "utf8");
    expect(text).not.toContain(ANTHROPIC_CANARY);
    expect(text).not.toContain(OPENAI_CANARY);
    expect(text).not.toMatch(/authorization|x-api-key/i);
    expect(text).not.toContain("system-reminder");
    const cassette = JSON.parse(text) as Cassette;
    expect(cassette.version).toBe(1);
    expect(
      cassette.entries.map((entry) => [entry.request.method, entry.request.path, entry.response.body.type]),
    ).toEqual([
      ["POST", "/v1/messages", "sse"],
      ["POST", "/v1/messages", "text"],
      ["GET", "/v1/models", "text"],
      ["POST", "/v1/chat/completions", "sse"],
      ["POST", "/v1/chat/completions", "text"],
      ["POST", "/v1/messages", "sse"],
    ]);
    expect(cassette.entries[0]!.request).toEqual({
      method: "POST",
      path: "/v1/messages",
      model: "claude-test",
      stream: true,
      body: {
        system: "",
        tools: ["get_weather"],
        messages: [{ role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] }],
      },
    });
    const events = cassette.entries[0]!.response.body;
    expect(events.type === "sse" && events.events.map((event) => event.event)).toContain(
      "content_block_delta",
    );
  });

  it("gives the SDK clients identical results from the cassette", async () => {
    const replay = await startMockModel({ replay: cassettePath });
    try {
      expect(await anthropicConversation(replay.url)).toEqual(recorded.anthropic);
      expect(await openAiConversation(replay.url)).toEqual(recorded.openai);
      expect(replay.requests.map((request) => [request.source, request.matched])).toEqual(
        [1, 2, 3, 4, 5].map((n) => ["cassette", `exact #${n}`]),
      );
      expect(replay.requests[3]).toMatchObject({ api: "openai", system: "You are terse.", tools: ["bash"] });
    } finally {
      await replay.close();
    }
  });

  it("keeps the recorded pacing with `pacing: original`, and none with `fast`", async () => {
    const original = await startMockModel({ replay: { cassette: cassettePath, pacing: "original" } });
    const fast = await startMockModel({ replay: cassettePath });
    try {
      const paced = await timeStreamed(original.url, "slow please");
      const unpaced = await timeStreamed(fast.url, "slow please");
      expect(paced.totalMs).toBeGreaterThan(200);
      expect(paced.firstDeltaMs).toBeLessThan(paced.totalMs - 150);
      expect(unpaced.totalMs).toBeLessThan(150);
    } finally {
      await original.close();
      await fast.close();
    }
  });

  it("falls back to the next unused entry of the same route, model and streaming flag; then 409, and 404 for others", async () => {
    const replay = await startMockModel({ replay: cassettePath });
    try {
      const client = anthropic(replay.url);
      const ask = (content: string, model = "claude-test") =>
        client.messages.create({ model, max_tokens: 100, messages: [{ role: "user", content }] });

      const changed = await ask("What is the weather in Rome?");
      expect(changed.content).toEqual([{ type: "text", text: "It is sunny in Paris." }]);
      expect(replay.requests.at(-1)?.matched).toBe("fallback #2");
      const exhausted = await ask("one too many").catch((error: unknown) => error);
      expect(exhausted).toBeInstanceOf(Anthropic.APIError);
      expect(exhausted).toMatchObject({ status: 409, error: { type: "error" } });
      expect((exhausted as Error).message).toContain(`${NO_CASSETTE_ENTRY} ${cassettePath}`);

      const otherModel = await ask("hi", "claude-other").catch((error: unknown) => error);
      expect(otherModel).toMatchObject({ status: 404, error: { error: { type: "not_found_error" } } });
      expect((otherModel as Error).message).toContain(
        "it has no entry for POST /v1/messages (model claude-other)",
      );

      const chat = await openai(replay.url)
        .chat.completions.create({ model: "gpt-other", messages: [{ role: "user", content: "hi" }] })
        .catch((error: unknown) => error);
      expect(chat).toBeInstanceOf(OpenAI.APIError);
      expect(chat).toMatchObject({ status: 404, error: { type: "invalid_request_error" } });
      expect((chat as Error).message).toContain(cassettePath);
      expect(replay.requests.at(-1)).toMatchObject({ source: undefined, model: "gpt-other" });
    } finally {
      await replay.close();
    }
  });
});

describe("record mode", () => {
  let echo: Server;
  let echoUrl: string;
  beforeAll(async () => {
    echo = createServer((request, response) => {
      response.writeHead(200, { "content-type": "application/json", "x-upstream": "echo" });
      response.end(JSON.stringify({ method: request.method, url: request.url, headers: request.headers }));
    });
    echo.listen(0, "127.0.0.1");
    await once(echo, "listening");
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/prefix/`;
  });
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

  it("passes headers and any route through and redacts the keys it saw from the cassette", async () => {
    const cassette = join(dir, "echo.json");
    const recorder = await startMockModel({ record: { upstream: echoUrl, cassette } });
    try {
      const response = await fetch(`${recorder.url}/v1/anything?api_key=query-canary-123456`, {
        headers: {
          authorization: `Bearer ${OPENAI_CANARY}`,
          "x-api-key": ANTHROPIC_CANARY,
          "x-custom": "kept",
        },
      });
      expect(response.headers.get("x-upstream")).toBe("echo");
      const echoed = (await response.json()) as { url: string; headers: Record<string, string> };
      expect(echoed.url).toBe("/prefix/v1/anything?api_key=query-canary-123456");
      expect(echoed.headers).toMatchObject({
        authorization: `Bearer ${OPENAI_CANARY}`,
        "x-api-key": ANTHROPIC_CANARY,
        "x-custom": "kept",
      });
    } finally {
      await recorder.close();
    }
    const text = await readFile(cassette, "utf8");
    expect(text).not.toContain(OPENAI_CANARY);
    expect(text).not.toContain(ANTHROPIC_CANARY);
    expect(text).not.toContain("query-canary-123456");
    expect(text).toContain("[redacted]");
  });

  it("answers 502 in the API's error shape when the upstream is unreachable", async () => {
    const recorder = await startMockModel({
      record: { upstream: "http://127.0.0.1:9", cassette: join(dir, "unreachable.json") },
    });
    try {
      const error = await openai(recorder.url)
        .chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ status: 502, error: { type: "server_error" } });
    } finally {
      await recorder.close();
    }
    expect(JSON.parse(await readFile(join(dir, "unreachable.json"), "utf8"))).toEqual({
      version: 1,
      entries: [],
    });
  });
});

describe("options and cassette validation", () => {
  it("rejects a missing or invalid cassette, naming the file", async () => {
    const invalid = join(dir, "invalid.json");
    await writeFile(invalid, JSON.stringify({ version: 2, entries: [] }));
    for (const path of [invalid, join(dir, "missing.json")]) {
      const error = await startMockModel({ replay: path }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MockModelError);
      expect(error).toMatchObject({ code: "invalid_cassette", message: expect.stringContaining(path) });
    }
  });

  it("rejects combining modes and a non-http upstream", async () => {
    const replayWithScript = startMockModel({ replay: "x.json", script: [] });
    await expect(replayWithScript).rejects.toMatchObject({ code: "invalid_options" });
    const badUpstream = startMockModel({ record: { upstream: "ftp://example.com", cassette: "x.json" } });
    await expect(badUpstream).rejects.toMatchObject({ code: "invalid_options" });
  });
});
