export { createOpenCodeArchitecture } from "./opencode-architecture.js";
