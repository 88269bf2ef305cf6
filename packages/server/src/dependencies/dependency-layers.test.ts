import { agentProfileSchema } from "@agent-runtime/protocol";
import { describe, expect, it } from "vitest";
import { createFakeSandboxProvider } from "../testing/fake-sandbox-provider.js";
import { DependencyLayers } from "./dependency-layers.js";

const progress = { building: () => undefined, output: () => undefined };

describe("DependencyLayers", () => {
  it("refuses a profile with packages on a provider that cannot hold layers, naming it", async () => {
    const provider = createFakeSandboxProvider();
    const layers = new DependencyLayers({ npmRegistry: "http://127.0.0.1:4873/" });
    const profile = agentProfileSchema.parse({ id: "p", name: "P", dependencies: { npm: ["a"] } });
    await expect(layers.prepare(profile, provider, progress)).rejects.toMatchObject({
      code: "DEPENDENCIES_FAILED",
      message: expect.stringContaining(`the ${provider.id} sandbox provider cannot install`),
    });
  });

  it("needs no layer, and asks nothing of the provider, for a profile without packages", async () => {
    const layers = new DependencyLayers({});
    const profile = agentProfileSchema.parse({ id: "p", name: "P" });
    await expect(layers.prepare(profile, createFakeSandboxProvider(), progress)).resolves.toBeUndefined();
  });
});
