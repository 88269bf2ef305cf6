import { readJsonlFixtures, runAgentArchitectureContract } from "../../testing/architecture-contract.js";
import { createClaudeAgentSdkArchitecture } from "./claude-agent-sdk-architecture.js";

runAgentArchitectureContract({
  createArchitecture: createClaudeAgentSdkArchitecture,
  fixtures: readJsonlFixtures(new URL("./__fixtures__/", import.meta.url)),
});
