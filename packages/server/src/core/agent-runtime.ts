import { availableParallelism } from "node:os";
import {
  type AgentProfileInput,
  type Architecture,
  OPENCODE_PROVIDER_ID,
  type TenantQuotas,
  tenantQuotasSchema,
} from "@agent-runtime/protocol";
import { type Logger, pino } from "pino";
import { z } from "zod";
import { createAcpArchitecture } from "../agents/acp/acp-architecture.js";
import type { AgentArchitecture, ModelEndpoint } from "../agents/agent-architecture.js";
import { createClaudeAgentSdkArchitecture } from "../agents/claude-agent-sdk/claude-agent-sdk-architecture.js";
import { createCodexArchitecture } from "../agents/codex/codex-architecture.js";
import { createGeminiArchitecture } from "../agents/gemini/gemini-architecture.js";
import { createOpenCodeArchitecture } from "../agents/opencode/opencode-architecture.js";
import type { DependencySources } from "../dependencies/dependency-layer.js";
import { DependencyLayers } from "../dependencies/dependency-layers.js";
import { errorMessage } from "../errors.js";
import { RuntimeProbes } from "../observability/runtime-probes.js";
import { guardPersistence } from "../persistence/guarded-persistence.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { loadProfilesFromFolder } from "../profiles/load-profiles-from-folder.js";
import { ProfileRegistry } from "../profiles/profile-registry.js";
import { validateInput } from "../profiles/validate-input.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { type RunnerLimitsInput, runnerLimitsSchema } from "./runner-limits.js";
import { sweepOrphanSandboxes } from "./sandbox-sweep.js";
import { SessionManager } from "./session-manager.js";
import type { SessionOwnership } from "./session-ownership.js";
import { StartAdmission } from "./start-admission.js";
import { WarmPool, type WarmPoolOptions } from "./warm-pool.js";

export interface AgentRuntimeOptions {
  /** Where sessions, blocks, transcripts, workspace files (and optionally profiles) are stored. */
  readonly persistence: PersistenceAdapter;
  /** Creates one sandbox per session, lazily on the first message. */
  readonly sandbox: SandboxProvider;
  /** Agent profiles given in code. @default [] */
  readonly agents?: readonly AgentProfileInput[];
  /** Folders of profile files (see `loadProfilesFromFolder`), loaded at `start()`. @default [] */
  readonly profileDirs?: readonly string[];
  /** Agent architectures sessions may use. @default [Claude Agent SDK, OpenCode, Codex, Gemini CLI, ACP] */
  readonly architectures?: readonly AgentArchitecture[];
  /** Model endpoint passed to agents (base URL and API key). @default {} (the agent's own defaults) */
  readonly model?: ModelEndpoint;
  /** Tear a session's sandbox down after this much inactivity; 0 disables. @default 900_000 (15 min) */
  readonly idleTimeoutMs?: number;
  /**
   * Suspend a session's sandbox after this long without a turn, when its
   * provider can (`capabilities.suspend`): the agent's processes are frozen,
   * so they use no CPU, and the memory the kernel can take back is
   * reclaimed; the sandbox, its disk and the agent's state are kept, and the
   * next message thaws it, the agent going on where it stood (no restore, no
   * start). The teardown after `idleTimeoutMs` still follows. 0 disables.
   * @default 60_000 (1 min)
   */
  readonly suspendAfterMs?: number;
  /** How often live sessions write their changes to persistence (each turn end syncs too). @default 30_000 */
  readonly syncIntervalMs?: number;
  /** How long an interrupted agent may take to stop before it is killed. @default 5_000 */
  readonly interruptGraceMs?: number;
  /**
   * A model answer that sends nothing for this long (it stopped mid-stream,
   * or never started) ends its turn with a `MODEL_STALLED` error, keeping
   * the text that arrived; the agent is interrupted and the session goes on.
   * Measured at the sandbox's egress proxy on the model API's requests, so
   * only with `egress: "restricted"`, a provider that proxies egress (local)
   * and a model key; long tool calls never count. 0 disables.
   * @default 120_000 (2 min)
   */
  readonly modelStallTimeoutMs?: number;
  /** How long a tool-permission request waits for an answer before it is denied. @default 300_000 (5 min) */
  readonly permissionTimeoutMs?: number;
  /**
   * A persistence call that has not settled after this long counts as failed
   * (`PERSISTENCE_FAILED`) and is retried like any other failure. @default 30_000
   */
  readonly persistenceTimeoutMs?: number;
  /** A failed sync is retried after this delay, doubling on each failure. @default 1_000 */
  readonly syncRetryMinMs?: number;
  /** Upper bound of the delay between sync retries. @default 30_000 */
  readonly syncRetryMaxMs?: number;
  /**
   * Messages that may wait behind a session's running turn; one more is
   * refused with `QUEUE_FULL` (HTTP 429). @default 20
   */
  readonly maxQueuedMessages?: number;
  /** Bytes a session's waiting messages may hold together, their images included (`QUEUE_FULL` past it). @default 25_165_824 (24 MiB: one message with the most attachments) */
  readonly maxQueuedBytes?: number;
  /** Recent events each session keeps for resume; older cursors get a snapshot. @default 10_000 */
  readonly eventWindowSize?: number;
  /**
   * How long `shutdown()` lets sessions interrupt their turns, sync and stop
   * their agents; after it, remaining sandboxes are killed. @default 10_000
   */
  readonly shutdownGraceMs?: number;
  /**
   * Workspace files larger than this are indexed but not stored, and the
   * session gets a `STORAGE_QUOTA` error naming them (they do not survive
   * the sandbox's teardown). @default 104_857_600 (100 MiB)
   */
  readonly maxPersistedFileBytes?: number;
  /**
   * Stored workspace bytes per session; files past it are not stored, with a
   * `STORAGE_QUOTA` error naming them. @default 1_073_741_824 (1 GiB)
   */
  readonly maxPersistedWorkspaceBytes?: number;
  /**
   * Egress of sandboxes whose provider can limit it: `restricted` allows only
   * the model endpoint (its key injected by the provider, never seen by the
   * agent), external MCP servers and the profile's `network.allow`; `open`
   * leaves egress unrestricted and gives the agent the key. @default "restricted"
   */
  readonly egress?: "restricted" | "open";
  /**
   * Where profiles' npm and pip packages are installed from, once per
   * distinct list, into a layer every sandbox of the profile mounts
   * read-only (see docs/profiles/dependencies.md). @default npm's registry
   * as this host's npm configuration sets it; pip with no index
   */
  readonly dependencies?: DependencySources;
  /**
   * Agents (sandbox created, agent started) that may start at once; the
   * others wait, shown `queued` with their place, message starts before
   * recoveries. A start costs seconds of CPU that running turns share.
   * @default the machine's cores (`os.availableParallelism()`)
   */
  readonly maxConcurrentStarts?: number;
  /**
   * Further model endpoints, by provider name: OpenAI-compatible APIs
   * (`baseUrl` and `apiKey`) whose models OpenCode sessions name as
   * `<provider>/<model>` (in the profile's or session's `model`). Each key is
   * held like the main one: injected by the egress proxy on the model API's
   * requests only. Claude Code talks to the main endpoint only. The name
   * `opencode` is OpenCode's own hosted models (OpenCode Zen, at
   * `https://opencode.ai/zen/v1`; `serve` sets it from `OPENCODE_API_KEY`):
   * their key goes with each API they speak, in its own header.
   */
  readonly modelProviders?: Readonly<Record<string, ModelEndpoint>>;
  /**
   * Bounds on what each sandbox's runner may send: line size, `log` and
   * invalid line rates, flood budgets (see `runnerLimitsSchema`). A sandbox
   * past them is stopped and its session gets a `RUNNER_PROTOCOL` error.
   * @default { maxLineBytes: 16 MiB, logLinesPerSecond: 100, logLineBurst: 500,
   *   maxDroppedLogLines: 5_000, invalidLinesLoggedPerSecond: 10, maxInvalidLines: 1_000 }
   */
  readonly runnerLimits?: RunnerLimitsInput;
  /**
   * Quotas per tenant: `default` for every tenant, `tenants[id]` replacing
   * its fields for one (see `TenantQuota`: sessions, running sandboxes,
   * messages per minute, stored bytes). Past one, the request is refused
   * `QUOTA_EXCEEDED` (HTTP 429) and nothing is created or started. Sessions
   * of no tenant have none. Throws `VALIDATION_FAILED` for an invalid value.
   * @default {} (no quotas)
   */
  readonly quotas?: TenantQuotas;
  /**
   * Cluster mode: who may run each session (see `SessionOwnership`;
   * `serve --redis-url` sets it up). @default this process runs every session it loads
   */
  readonly ownership?: SessionOwnership;
  /**
   * Keep agents started ahead (see `WarmPool`): `size` sandboxes, each with
   * its runner and agent running, per (profile, architecture) in use and per
   * profile listed in `profiles`; a fresh session's first message takes one.
   * Needs a provider whose sandboxes can be renamed (local). @default none
   */
  readonly warmPool?: WarmPoolSettings;
  /** @default a pino logger at level "info" */
  readonly logger?: Logger;
}

/** The warm pool's settings (see `WarmPoolOptions`). */
export type WarmPoolSettings = Pick<
  WarmPoolOptions,
  "size" | "profiles" | "maxAgeMs" | "refillDelayMs" | "minAvailableMemoryBytes" | "availableMemory"
>;

export interface AgentRuntime {
  readonly sessions: SessionManager;
  readonly profiles: ProfileRegistry;
  readonly logger: Logger;
  readonly sandboxProvider: SandboxProvider;
  readonly architectures: ReadonlyMap<Architecture, AgentArchitecture>;
  /** The storage the runtime uses (the given adapter, each call bounded by `persistenceTimeoutMs`). */
  readonly persistence: PersistenceAdapter;
  /** What the core reports to observers beyond session events (metrics, traces). */
  readonly probes: RuntimeProbes;
  /** The warm pool, when `warmPool` is set. */
  readonly warmPool: WarmPool | undefined;
  /** Initialises persistence, checks the sandbox provider, loads profile folders. Call once. */
  start(): Promise<void>;
  /** Closes every session (sync + sandbox teardown), then persistence. Idempotent. */
  shutdown(): Promise<void>;
}

/** Provider names are `<provider>/` prefixes of model names, so never the runtime's own provider id. */
const modelProvidersSchema = z.record(
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "a provider name: lowercase letters, digits and '-'")
    .refine(
      (name) => name !== OPENCODE_PROVIDER_ID,
      `"${OPENCODE_PROVIDER_ID}" is the runtime's own provider`,
    ),
  z.strictObject({ baseUrl: z.url({ protocol: /^https?$/ }), apiKey: z.string().min(1).optional() }),
);

const startLimitSchema = z.number().int().min(1).max(1024);

/** One start per core. */
function defaultStartLimit(): number {
  return Math.max(1, availableParallelism());
}

/** A timer's longest delay (Node fires longer ones at once). */
const stallTimeoutSchema = z.number().int().min(0).max(2_147_483_647);

/**
 * Creates the runtime core. Nothing happens until `start()`. Throws
 * `VALIDATION_FAILED` for invalid `runnerLimits`, `modelStallTimeoutMs` or `suspendAfterMs`.
 */
export function createAgentRuntime(options: AgentRuntimeOptions): AgentRuntime {
  const logger = options.logger ?? pino({ level: "info" });
  const architectures = new Map<Architecture, AgentArchitecture>(
    (
      options.architectures ?? [
        createClaudeAgentSdkArchitecture(),
        createOpenCodeArchitecture(),
        createCodexArchitecture(),
        createGeminiArchitecture(),
        createAcpArchitecture(),
      ]
    ).map((a) => [a.id, a]),
  );
  const profileInputs: AgentProfileInput[] = [...(options.agents ?? [])];
  const persistence = guardPersistence(options.persistence, {
    timeoutMs: options.persistenceTimeoutMs ?? 30_000,
  });
  const profiles = new ProfileRegistry(profileInputs, persistence, logger);
  const probes = new RuntimeProbes();
  const launch = {
    sandboxProvider: options.sandbox,
    endpoint: options.model ?? {},
    modelProviders: validateInput(modelProvidersSchema, options.modelProviders ?? {}, "modelProviders"),
    restrictEgress: (options.egress ?? "restricted") === "restricted",
    modelStallTimeoutMs: validateInput(
      stallTimeoutSchema,
      options.modelStallTimeoutMs ?? 120_000,
      "modelStallTimeoutMs",
    ),
    runnerLimits: validateInput(runnerLimitsSchema, options.runnerLimits ?? {}, "runnerLimits"),
    dependencyLayers: new DependencyLayers(options.dependencies ?? {}),
    startAdmission: new StartAdmission(
      validateInput(
        startLimitSchema,
        options.maxConcurrentStarts ?? defaultStartLimit(),
        "maxConcurrentStarts",
      ),
    ),
  };
  const warmPool = options.warmPool
    ? new WarmPool({
        ...options.warmPool,
        ...launch,
        architectures,
        profile: (id) => profiles.get(id),
        logger,
      })
    : undefined;
  const sessions = new SessionManager({
    ...launch,
    ...(warmPool ? { warmPool } : {}),
    persistence,
    architectures,
    profiles,
    logger,
    idleTimeoutMs: options.idleTimeoutMs ?? 900_000,
    suspendAfterMs: validateInput(stallTimeoutSchema, options.suspendAfterMs ?? 60_000, "suspendAfterMs"),
    syncIntervalMs: options.syncIntervalMs ?? 30_000,
    interruptGraceMs: options.interruptGraceMs ?? 5_000,
    maxPersistedFileBytes: options.maxPersistedFileBytes ?? 104_857_600,
    maxPersistedWorkspaceBytes: options.maxPersistedWorkspaceBytes ?? 1_073_741_824,
    permissionTimeoutMs: options.permissionTimeoutMs ?? 300_000,
    syncRetryMinMs: options.syncRetryMinMs ?? 1_000,
    syncRetryMaxMs: options.syncRetryMaxMs ?? 30_000,
    eventWindowSize: options.eventWindowSize ?? 10_000,
    maxQueuedMessages: options.maxQueuedMessages ?? 20,
    maxQueuedBytes: options.maxQueuedBytes ?? 25_165_824,
    shutdownGraceMs: options.shutdownGraceMs ?? 10_000,
    quotas: validateInput(tenantQuotasSchema, options.quotas ?? {}, "quotas"),
    ...(options.ownership ? { ownership: options.ownership } : {}),
    probes,
  });
  let stopped: Promise<void> | undefined;
  /** The start-up sweep of sandboxes left running for sessions that are gone (in the background). */
  let sweeping: Promise<void> | undefined;
  const stopSweep = new AbortController();

  return {
    sessions,
    profiles,
    logger,
    sandboxProvider: options.sandbox,
    architectures,
    persistence,
    probes,
    warmPool,
    async start() {
      await persistence.init?.();
      await options.sandbox.check();
      for (const dir of options.profileDirs ?? []) {
        for (const profile of await loadProfilesFromFolder(dir, { logger })) profiles.add(profile);
      }
      sessions.start();
      warmPool?.start();
      sweeping ??= sweepOrphanSandboxes(options.sandbox, persistence, logger, stopSweep.signal);
    },
    shutdown() {
      stopped ??= (async () => {
        stopSweep.abort();
        await Promise.all([sessions.shutdown(), warmPool?.drain(), sweeping]);
        await persistence
          .close?.()
          .catch((error: unknown) =>
            logger.error({ err: errorMessage(error) }, "closing persistence failed"),
          );
      })();
      return stopped;
    },
  };
}
