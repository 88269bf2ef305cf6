import { afterEach, describe, expect, it } from "vitest";
import { type MockModel, startMockModel } from "../server.js";

/** Reads the response body until `until` shows in it; resolves with what was read so far and the reader. */
async function readUntil(
  response: Response,
  until: string,
): Promise<{ text: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(until)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return { text, reader };
}

describe("a scripted stall", () => {
  let model: MockModel | undefined;
  afterEach(async () => {
    await model?.close();
    model = undefined;
  });

  const stallScript = [
    { match: { prompt: "stall" }, reply: { steps: ["abcdefgh"], chunkSize: 2, stallAfterChunks: 2 } },
  ];

  it("sends the first chunks, then nothing more while the response stays open (Anthropic)", async () => {
    model = await startMockModel({ script: stallScript });
    const abort = new AbortController();
    const response = await fetch(`${model.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        max_tokens: 10,
        stream: true,
        messages: [{ role: "user", content: "stall" }],
      }),
      signal: abort.signal,
    });
    const { text, reader } = await readUntil(response, '"cd"');
    const more = await Promise.race([
      reader.read(),
      new Promise((resolve) => setTimeout(() => resolve("nothing"), 300)),
    ]).catch(() => "nothing");
    expect(text).toContain('"ab"');
    expect(text).not.toContain('"ef"');
    expect(more).toBe("nothing");
    abort.abort();
  });

  it("stalls OpenAI streams the same way", async () => {
    model = await startMockModel({ script: stallScript });
    const abort = new AbortController();
    const response = await fetch(`${model.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "stall" }] }),
      signal: abort.signal,
    });
    const { text } = await readUntil(response, '"cd"');
    expect(text).not.toContain("[DONE]");
    abort.abort();
  });

  it("lets the server close while a stream hangs", async () => {
    model = await startMockModel({ script: stallScript });
    const response = await fetch(`${model.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        max_tokens: 10,
        stream: true,
        messages: [{ role: "user", content: "stall" }],
      }),
    });
    await readUntil(response, '"cd"');
    const started = performance.now();
    await model.close();
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("inspection routes", () => {
  let model: MockModel | undefined;
  afterEach(async () => {
    await model?.close();
    model = undefined;
  });

  it("can be turned off: /_mock/* answers 404 while the log still fills in-process", async () => {
    model = await startMockModel({ inspection: false });
    await fetch(`${model.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        max_tokens: 10,
        messages: [{ role: "user", content: "secret prompt" }],
      }),
    });
    const listed = await fetch(`${model.url}/_mock/requests`);
    expect(listed.status).toBe(404);
    expect(await listed.text()).not.toContain("secret prompt");
    expect((await fetch(`${model.url}/_mock/requests`, { method: "DELETE" })).status).toBe(404);
    expect(model.requests.map((r) => r.path)).toContain("/v1/messages");
  });
});
