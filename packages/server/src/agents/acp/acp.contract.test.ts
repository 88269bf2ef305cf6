import { readJsonlFixtures, runAgentArchitectureContract } from "../../testing/architecture-contract.js";
import { createAcpArchitecture } from "./acp-architecture.js";

// Any ACP agent relays the same messages as Codex's adapter: its recordings serve both.
runAgentArchitectureContract({
  createArchitecture: createAcpArchitecture,
  fixtures: readJsonlFixtures(new URL("../codex/__fixtures__/", import.meta.url)),
});
