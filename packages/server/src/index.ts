/**
 * @agent-runtime/server: the runtime core, its built-in pluggable parts and
 * the REST + WebSocket server. Contract suites for your own adapters live in
 * `@agent-runtime/server/testing`.
 */

export type { ArchitectureCapabilities } from "@agent-runtime/protocol";
export type {
  AgentArchitecture,
  AgentEvent,
  AgentOutputParser,
  MaterializeInput,
  ModelEndpoint,
  ParserContext,
  RunnerInput,
} from "./agents/agent-architecture.js";
export { createClaudeAgentSdkArchitecture } from "./agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
export { createOpenCodeArchitecture } from "./agents/opencode/opencode-architecture.js";
export { type AgentRuntime, type AgentRuntimeOptions, createAgentRuntime } from "./core/agent-runtime.js";
export { AgentSession, type SessionResume } from "./core/agent-session.js";
export type { SessionEventListener } from "./core/event-log.js";
export type { PermissionAnswer } from "./core/permission-broker.js";
export type { RunnerLimitsInput } from "./core/runner-limits.js";
export type { AgentSessionDeps } from "./core/session-deps.js";
export { SessionManager } from "./core/session-manager.js";
export type { SessionScope } from "./core/session-scope.js";
export type { WorkspaceFileReader } from "./core/workspace-file-reader.js";
export { errorMessage, RuntimeError } from "./errors.js";
export type { AuditTrail } from "./observability/audit-trail.js";
export { type MetricsListener, startMetricsListener } from "./observability/metrics-listener.js";
export type { ReadinessOptions } from "./observability/readiness.js";
export type { MetricsOptions, RuntimeMetrics } from "./observability/runtime-metrics.js";
export type { ProbePhase, RuntimeProbeListener, RuntimeProbes } from "./observability/runtime-probes.js";
export type { ObservabilityOptions } from "./observability/server-observability.js";
export { type EnvTracing, tracingFromEnv } from "./observability/tracing-from-env.js";
export type { BuiltInPersistenceAdapter } from "./persistence/built-in-persistence-adapter.js";
export { createMemoryPersistenceAdapter } from "./persistence/memory/memory-persistence-adapter.js";
export type {
  AuditListPage,
  PersistenceAdapter,
  StoredFile,
  StoredFileInfo,
  StoredFileRange,
} from "./persistence/persistence-adapter.js";
export { createPostgresPersistenceAdapter } from "./persistence/postgres/postgres-persistence-adapter.js";
export { createSqlitePersistenceAdapter } from "./persistence/sqlite/sqlite-persistence-adapter.js";
export { loadProfilesFromFolder } from "./profiles/load-profiles-from-folder.js";
export { ProfileRegistry } from "./profiles/profile-registry.js";
export type { LocalSandboxOptions } from "./sandboxes/local/local-sandbox-options.js";
export { createLocalSandboxProvider } from "./sandboxes/local/local-sandbox-provider.js";
export type { ModalSandboxOptions } from "./sandboxes/modal/modal-sandbox-options.js";
export { createModalSandboxProvider } from "./sandboxes/modal/modal-sandbox-provider.js";
export type {
  ByteRange,
  ExecOptions,
  ExitStatus,
  Sandbox,
  SandboxCapabilities,
  SandboxFile,
  SandboxFileRead,
  SandboxFileReader,
  SandboxProcess,
  SandboxProvider,
  SandboxSpec,
  WorkspaceEntry,
} from "./sandboxes/sandbox-provider.js";
export { type AgentServer, type AgentServerOptions, createAgentServer } from "./server.js";
export type { ApiKeyEntry } from "./transport/api-keys.js";
export type { TokenOptions } from "./transport/auth-tokens.js";
export type { FileRouteOptions } from "./transport/http/routes/files.js";
export { VERSION } from "./version.js";
