import { describe, expect, it } from "vitest";
import { OPENCODE_PROVIDER_ID, openCodeModelId, openCodeModelRef } from "./opencode.js";

describe("OpenCode model names", () => {
  it("gives a name without a provider to the runtime's provider", () => {
    expect(openCodeModelId("mock")).toBe(`${OPENCODE_PROVIDER_ID}/mock`);
    expect(openCodeModelRef("mock")).toEqual({ providerID: OPENCODE_PROVIDER_ID, modelID: "mock" });
    expect(openCodeModelRef("/mock")).toEqual({ providerID: OPENCODE_PROVIDER_ID, modelID: "/mock" });
  });

  it("splits a provider off at the first slash only", () => {
    expect(openCodeModelRef("openrouter/anthropic/claude")).toEqual({
      providerID: "openrouter",
      modelID: "anthropic/claude",
    });
    expect(openCodeModelId("openrouter/anthropic/claude")).toBe("openrouter/anthropic/claude");
  });

  it("reads back what it writes: the runner sees the model the server configured", () => {
    for (const model of ["mock", "/mock", "openai/gpt-5", "a/b/c", `${OPENCODE_PROVIDER_ID}/mock`]) {
      expect(openCodeModelRef(openCodeModelId(model))).toEqual(openCodeModelRef(model));
      expect(openCodeModelId(openCodeModelId(model))).toBe(openCodeModelId(model));
    }
  });
});
