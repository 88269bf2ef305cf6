import { readJsonlFixtures, runAgentArchitectureContract } from "../../testing/architecture-contract.js";
import { createOpenCodeArchitecture } from "./opencode-architecture.js";

runAgentArchitectureContract({
  createArchitecture: createOpenCodeArchitecture,
  fixtures: readJsonlFixtures(new URL("./__fixtures__/", import.meta.url)),
});
