export type {
  AgentArchitecture,
  AgentEvent,
  AgentOutputParser,
  ArchitectureCapabilities,
  MaterializeInput,
  ModelEndpoint,
  ParserContext,
  RunnerInput,
} from "./agent-architecture.js";
export { createClaudeAgentSdkArchitecture } from "./claude-agent-sdk/index.js";
