import { expect, it } from "vitest";
import { createMemoryPersistenceAdapter } from "../../src/persistence/memory/memory-persistence-adapter.js";
import { runPersistenceAdapterContract } from "../../src/testing/persistence-contract.js";
import { runBuiltInAdapterChecks, seedProfiles } from "./built-in-adapter-checks.js";

runPersistenceAdapterContract({
  name: "memory",
  createAdapter: async () => createMemoryPersistenceAdapter(),
  seedProfiles,
});

runBuiltInAdapterChecks("memory", async () => createMemoryPersistenceAdapter());

it("starts with the profiles given in its options, validated", async () => {
  const adapter = createMemoryPersistenceAdapter({ profiles: [{ id: "helper", name: "Helper" }] });
  expect(await adapter.loadAgentProfile("helper")).toMatchObject({
    id: "helper",
    name: "Helper",
    skills: [],
  });
  expect(() => createMemoryPersistenceAdapter({ profiles: [{ id: "bad id", name: "X" }] })).toThrow(
    /profiles\[0\]: id: letters, digits/,
  );
});
