import { readJsonlFixtures, runAgentArchitectureContract } from "../../testing/architecture-contract.js";
import { createCodexArchitecture } from "./codex-architecture.js";

runAgentArchitectureContract({
  createArchitecture: createCodexArchitecture,
  fixtures: readJsonlFixtures(new URL("./__fixtures__/", import.meta.url)),
});
