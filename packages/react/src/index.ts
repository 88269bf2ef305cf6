export {
  AgentServiceProvider,
  type AgentServiceProviderProps,
  useAgentClient,
} from "./agent-service-provider.js";
export { type UseAgentSessionResult, useAgentSession } from "./use-agent-session.js";
export { useBlock, useBlockIds } from "./use-block.js";
export { useConnectionState } from "./use-connection-state.js";
export { type UseEventsResult, useEvents } from "./use-events.js";
export { type UseMessagesResult, useMessages } from "./use-messages.js";
export { type UseOlderBlocksResult, useOlderBlocks } from "./use-older-blocks.js";
export { type UsePermissionsResult, usePermissions } from "./use-permissions.js";
export { type UseSessionListResult, useSessionList } from "./use-session-list.js";
export { useSessionSelector } from "./use-session-store.js";
export {
  type SubagentState,
  type UseSubagentsResult,
  useSubagentBlocks,
  useSubagents,
} from "./use-subagents.js";
export {
  type UseWorkspaceFilesResult,
  /** The original system's name of `useWorkspaceFiles`. */
  useWorkspaceFiles as useFiles,
  useWorkspaceFiles,
} from "./use-workspace-files.js";
