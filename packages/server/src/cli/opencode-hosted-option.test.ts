import { describe, expect, it } from "vitest";
import { withOpenCodeHostedProvider } from "./opencode-hosted-option.js";

describe("withOpenCodeHostedProvider (OPENCODE_API_KEY, --opencode-base-url)", () => {
  const other = { other: { baseUrl: "https://other.example.test/v1", apiKey: "k" } };

  it("adds OpenCode's hosted models as provider `opencode` when the key is set, at OpenCode Zen unless told otherwise", () => {
    expect(withOpenCodeHostedProvider(other, "zen-key", undefined)).toEqual({
      ...other,
      opencode: { baseUrl: "https://opencode.ai/zen/v1", apiKey: "zen-key" },
    });
    expect(withOpenCodeHostedProvider({}, "zen-key", "http://127.0.0.1:9/zen/v1")).toEqual({
      opencode: { baseUrl: "http://127.0.0.1:9/zen/v1", apiKey: "zen-key" },
    });
  });

  it("leaves the providers as they are without a key", () => {
    expect(withOpenCodeHostedProvider(other, undefined, undefined)).toEqual(other);
    expect(withOpenCodeHostedProvider(other, "", undefined)).toEqual(other);
  });

  it("refuses `opencode` named twice, and a base URL without a key", () => {
    expect(() =>
      withOpenCodeHostedProvider({ opencode: { baseUrl: "https://x.test/v1" } }, "zen-key", undefined),
    ).toThrow(/--model-providers names "opencode"/);
    expect(() => withOpenCodeHostedProvider({}, undefined, "https://x.test/v1")).toThrow(/OPENCODE_API_KEY/);
  });
});
