import { describe, expect, it } from "vitest";
import { parseModelProvidersOption } from "./model-providers-option.js";

describe("--model-providers", () => {
  it("reads each provider's key from the environment variable it names", () => {
    expect(
      parseModelProvidersOption(
        JSON.stringify({
          openai: { baseUrl: "https://example.test/v1", apiKeyEnv: "OPENAI_KEY" },
          local: { baseUrl: "http://127.0.0.1:1" },
        }),
        { OPENAI_KEY: "k" },
      ),
    ).toEqual({
      openai: { baseUrl: "https://example.test/v1", apiKey: "k" },
      local: { baseUrl: "http://127.0.0.1:1" },
    });
  });

  it.each([
    ["not JSON", "{", "--model-providers: not JSON"],
    [
      "a key in the option",
      JSON.stringify({ x: { baseUrl: "http://a", apiKey: "k" } }),
      'x: Unrecognized key: "apiKey"',
    ],
    [
      "an unset variable",
      JSON.stringify({ x: { baseUrl: "http://a", apiKeyEnv: "NOPE" } }),
      "x: NOPE is not set",
    ],
  ])("refuses %s", (_label, text, message) => {
    expect(() => parseModelProvidersOption(text, {})).toThrow(message);
  });
});
