import { describe, expect, it } from "vitest";
import { CassetteMatcher } from "./cassette-matcher.js";
import { normalizeRequest } from "./normalize-request.js";
import type { CassetteEntry, CassetteRequest } from "./schema.js";

const body = (value: unknown) => Buffer.from(JSON.stringify(value));
const anthropicKey = (value: unknown) => normalizeRequest("POST", "/v1/messages", body(value), []).key;

describe("normalizeRequest", () => {
  it("keeps what decides the answer and drops reminders, cache hints, signatures and parameters", () => {
    const plain = anthropicKey({
      model: "m",
      max_tokens: 10,
      system: "Be brief.",
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: "a" }] },
      ],
    });
    const noisy = anthropicKey({
      model: "m",
      max_tokens: 99,
      temperature: 0.2,
      metadata: { user_id: "session-1234" },
      system: [
        { type: "text", text: "Be brief.<system-reminder>today</system-reminder>", cache_control: {} },
      ],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: " Hi ", cache_control: { type: "ephemeral" } },
            { type: "text", text: "<system-reminder>context</system-reminder>" },
          ],
        },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: "b" }] },
      ],
    });
    expect(noisy).toEqual(plain);
    expect(plain).toEqual({
      method: "POST",
      path: "/v1/messages",
      model: "m",
      stream: false,
      body: {
        system: "Be brief.",
        tools: [],
        messages: [
          { role: "user", content: [{ type: "text", text: "Hi" }] },
          { role: "assistant", content: [{ type: "thinking", thinking: "hm" }] },
        ],
      },
    });
  });

  it("keeps other bodies as sent and redacts secrets from path and body", () => {
    const secret = "secret-value-123";
    const key = normalizeRequest("POST", `/v1/other?key=${secret}`, body({ token: secret, n: 1 }), [
      secret,
    ]).key;
    expect(key).toEqual({
      method: "POST",
      path: "/v1/other?key=[redacted]",
      body: { token: "[redacted]", n: 1 },
    });
  });
});

describe("CassetteMatcher", () => {
  const request = (text: string, model = "m"): CassetteRequest =>
    normalizeRequest(
      "POST",
      "/v1/messages",
      body({ model, max_tokens: 5, messages: [{ role: "user", content: text }] }),
      [],
    ).key;
  const entry = (text: string): CassetteEntry => ({
    request: request(text),
    response: { status: 200, latencyMs: 0, body: { type: "text", text } },
  });
  const answer = (result: ReturnType<CassetteMatcher["take"]>) =>
    result.entry ? [result.kind, result.position] : [result.status];

  it("takes exact matches first, then repeats them, then falls back to unused entries in order", () => {
    const matcher = new CassetteMatcher([entry("a"), entry("b"), entry("a"), entry("c")]);
    expect(answer(matcher.take(request("b")))).toEqual(["exact", 2]);
    expect(answer(matcher.take(request("b")))).toEqual(["repeat", 2]);
    expect(answer(matcher.take(request("x")))).toEqual(["fallback", 1]);
    expect(answer(matcher.take(request("a")))).toEqual(["exact", 3]);
    expect(answer(matcher.take(request("a")))).toEqual(["repeat", 3]);
    expect(answer(matcher.take(request("y")))).toEqual(["fallback", 4]);
    expect(answer(matcher.take(request("z")))).toEqual([409]);
    expect(answer(matcher.take(request("a", "other-model")))).toEqual([404]);
  });
});
