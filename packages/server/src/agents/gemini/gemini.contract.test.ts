import { readJsonlFixtures, runAgentArchitectureContract } from "../../testing/architecture-contract.js";
import { createGeminiArchitecture } from "./gemini-architecture.js";

runAgentArchitectureContract({
  createArchitecture: createGeminiArchitecture,
  fixtures: readJsonlFixtures(new URL("./__fixtures__/", import.meta.url)),
});
