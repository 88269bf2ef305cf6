import type { AgentProfile } from "@agent-runtime/protocol";
import type { Logger } from "pino";
import type { AgentArchitecture, ModelEndpoint } from "../agents/agent-architecture.js";
import type { DependencyLayers } from "../dependencies/dependency-layers.js";
import type { RuntimeProbes } from "../observability/runtime-probes.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";
import type { RunnerLimits } from "./runner-limits.js";
import type { StartAdmission } from "./start-admission.js";
import type { WarmPool } from "./warm-pool.js";

/** What one `AgentSession` is made with: its agent and profile, and the runtime's shared services and settings. */
export interface AgentSessionDeps {
  readonly persistence: PersistenceAdapter;
  readonly sandboxProvider: SandboxProvider;
  readonly architecture: AgentArchitecture;
  readonly profile: AgentProfile;
  readonly endpoint: ModelEndpoint;
  /** Further model providers, by name (see `AgentRuntimeOptions.modelProviders`). */
  readonly modelProviders: Readonly<Record<string, ModelEndpoint>>;
  readonly logger: Logger;
  /** Tear the sandbox down after this long without activity (0 disables). */
  readonly idleTimeoutMs: number;
  /** Suspend the sandbox (its processes frozen) after this long without a turn (0 disables). */
  readonly suspendAfterMs: number;
  /** How long an interrupted turn may take to stop before its runner is killed. */
  readonly interruptGraceMs: number;
  /** The model sending nothing for this long ends the turn with `MODEL_STALLED` (0 disables). */
  readonly modelStallTimeoutMs: number;
  /** Files larger than this are indexed but their content is not persisted. */
  readonly maxPersistedFileBytes: number;
  /** Stored workspace bytes per session; files past it are not stored (`STORAGE_QUOTA`). */
  readonly maxPersistedWorkspaceBytes: number;
  /** How long a permission request waits for an answer before it is denied. */
  readonly permissionTimeoutMs: number;
  /** Limit the sandbox's egress (when its provider can) and keep the model key out of it. */
  readonly restrictEgress: boolean;
  /** First delay before a failed sync is retried; it doubles on each further failure. */
  readonly syncRetryMinMs: number;
  /** Upper bound of the retry delay. */
  readonly syncRetryMaxMs: number;
  /** Messages that may wait behind a running turn; past it `sendMessage` throws `QUEUE_FULL`. */
  readonly maxQueuedMessages: number;
  /** UTF-8 bytes the waiting messages may hold together; past it `sendMessage` throws `QUEUE_FULL`. */
  readonly maxQueuedBytes: number;
  /** Recent events kept for resume (see `EventLog`). */
  readonly eventWindowSize: number;
  /** Bounds on what a sandbox's runner may send; past them it is stopped (`RUNNER_PROTOCOL`). */
  readonly runnerLimits: RunnerLimits;
  /** The layers holding profiles' installed dependencies, shared by every session. */
  readonly dependencyLayers: DependencyLayers;
  /** Bounds how many agents start at once (see `StartAdmission`), shared by every session. */
  readonly startAdmission: StartAdmission;
  /** Where the session reports what metrics and traces observe (see `RuntimeProbes`); absent: nowhere. */
  readonly probes?: RuntimeProbes;
  /** Started sandboxes for fresh sessions' first messages (see `WarmPool`); absent: none. */
  readonly warmPool?: WarmPool;
}
