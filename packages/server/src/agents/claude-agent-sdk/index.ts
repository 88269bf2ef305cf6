export { createClaudeAgentSdkArchitecture } from "./claude-agent-sdk-architecture.js";
