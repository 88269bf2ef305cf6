export { blockOwner } from "@agent-runtime/protocol";
export {
  AgentRuntimeClient,
  type AgentRuntimeClientOptions,
  type OpenSession,
} from "./agent-runtime-client.js";
export { AgentRuntimeError, type ClientErrorCode } from "./agent-runtime-error.js";
export type { ExtensionEvent, WireEvent } from "./apply-event.js";
export { type DebugEvent, EventLog, type EventLogOptions } from "./event-log.js";
export {
  type PermissionDecision,
  RestClient,
  type RestClientOptions,
} from "./rest-client.js";
export { type SessionListSnapshot, SessionListStore } from "./session-list-store.js";
export {
  emptySessionSnapshot,
  type LoadState,
  type QueuedMessage,
  type SessionErrorEntry,
  type SessionMetadata,
  type SessionSnapshot,
  type TurnState,
} from "./session-snapshot.js";
export { type ReceiveOutcome, type SessionEventListener, SessionStore } from "./session-store.js";
export {
  type ConnectionState,
  type ConnectionStatus,
  type SessionListSubscriber,
  type SessionSubscriber,
  SocketConnection,
  type SocketConnectionOptions,
} from "./socket-connection.js";
export { type TokenAnswer, TokenSource, type TokenSourceOptions } from "./token-source.js";
export { filterWorkspaceFiles, type WorkspaceFileFilter } from "./workspace-file-filter.js";
