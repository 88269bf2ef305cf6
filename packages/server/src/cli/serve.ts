import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { MockModel } from "@agent-runtime/mock-model";
import type { TenantQuotas } from "@agent-runtime/protocol";
import { type Logger, pino } from "pino";
import pretty from "pino-pretty";
import type { ModelEndpoint } from "../agents/agent-architecture.js";
import { Cluster } from "../cluster/cluster.js";
import { createAgentRuntime } from "../core/agent-runtime.js";
import type { DependencySources } from "../dependencies/dependency-layer.js";
import { errorMessage } from "../errors.js";
import { startMetricsListener } from "../observability/metrics-listener.js";
import { tracingFromEnv } from "../observability/tracing-from-env.js";
import type { PersistenceAdapter } from "../persistence/persistence-adapter.js";
import { createPostgresPersistenceAdapter } from "../persistence/postgres/postgres-persistence-adapter.js";
import { createSqlitePersistenceAdapter } from "../persistence/sqlite/sqlite-persistence-adapter.js";
import { createLocalSandboxProvider } from "../sandboxes/local/local-sandbox-provider.js";
import type { ModalSandboxOptions } from "../sandboxes/modal/modal-sandbox-options.js";
import { createModalSandboxProvider } from "../sandboxes/modal/modal-sandbox-provider.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { type AgentServerOptions, createAgentServer } from "../server.js";
import type { ApiKeyEntry } from "../transport/api-keys.js";
import { readApiKeysFile } from "./api-keys-file.js";
import { type ClusterServeOptions, defaultAdvertiseUrl, defaultNodeId } from "./cluster-cli-options.js";
import { loadMockModel } from "./load-mock-model.js";
import type { ObservabilityServeOptions } from "./observability-cli-options.js";

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  /** Route prefix of everything served (see `AgentServerOptions.basePath`). */
  readonly basePath?: string;
  readonly dataDir: string;
  /** `postgres://…` (or `postgresql://…`) for PostgreSQL, else a SQLite file; omitted: SQLite in `dataDir`. */
  readonly database?: string;
  /** Where `database` was set, as error messages name it. @default "--database" */
  readonly databaseSetting?: string;
  readonly profileDirs?: readonly string[];
  readonly sandbox: "local" | "modal";
  /** Options of the Modal provider (token, image, secrets, region, resources, lifetimes, network). */
  readonly modal?: ModalSandboxOptions;
  readonly unsafeNoIsolation: boolean;
  /** CPU time per local sandbox, in cores. */
  readonly sandboxCpus?: number;
  readonly egress: "restricted" | "open";
  /** Where profiles' packages are installed from (see `AgentRuntimeOptions.dependencies`). */
  readonly dependencies?: DependencySources;
  readonly modelBaseUrl?: string;
  /** Agents that may start at once (see `AgentRuntimeOptions.maxConcurrentStarts`). */
  readonly maxConcurrentStarts?: number;
  /** Agents kept started ahead per (profile, architecture) in use; 0 or absent: no pool (see `AgentRuntimeOptions.warmPool`). */
  readonly warmPool?: number;
  /** Profiles kept warm from the start (`id` or `id:architecture`). */
  readonly warmPoolProfiles?: readonly string[];
  /** Further model providers (see `AgentRuntimeOptions.modelProviders`). */
  readonly modelProviders?: Readonly<Record<string, ModelEndpoint>>;
  readonly modelApiKey?: string;
  /** Keys of `--api-keys` (see `ApiKeyEntry`). */
  readonly apiKeys: readonly ApiKeyEntry[];
  /** A JSON keys file (see `readApiKeysFile`), read at start and again on SIGHUP; its keys add to `apiKeys`. */
  readonly apiKeysFile?: string;
  /** Browser tokens: their secret and the keys of application-signed tokens (see `AgentServerOptions.tokens`). */
  readonly tokens?: AgentServerOptions["tokens"];
  /** Quotas per tenant (see `AgentRuntimeOptions.quotas`). */
  readonly quotas?: TenantQuotas;
  readonly idleTimeoutSeconds: number;
  /** Suspend an idle session's sandbox after this long (0 disables; see `AgentRuntimeOptions.suspendAfterMs`). */
  readonly suspendAfterSeconds?: number;
  /** A model answer idle this long ends its turn with `MODEL_STALLED` (0 disables). */
  readonly modelStallTimeoutSeconds: number;
  readonly logLevel: string;
  /** Cluster mode (needs a `postgres://` database): this node's part; absent: one node. */
  readonly cluster?: ClusterServeOptions;
  /** REST rate limits, trusted proxies and request timeouts; absent ones take the server's defaults. */
  readonly http?: Pick<AgentServerOptions, "rateLimit" | "trustProxy" | "httpTimeouts">;
  /** The metrics listener and per-tenant metric labels (tracing follows the OTEL_* variables). */
  readonly observability?: ObservabilityServeOptions;
  /** Limits of socket clients; absent ones take the server's defaults (see `AgentServerOptions`). */
  readonly socketLimits?: Pick<
    AgentServerOptions,
    | "maxSocketFrameBytes"
    | "maxSocketBufferedBytes"
    | "socketStallTimeoutMs"
    | "maxSocketsPerCaller"
    | "socketRateLimit"
  >;
}

/**
 * The adapter `database` selects. Throws, naming `setting`, for a value
 * that selects nothing: empty, or a URL of another database.
 */
function persistenceFor(database: string | undefined, setting: string, dataDir: string): PersistenceAdapter {
  if (database === undefined)
    return createSqlitePersistenceAdapter({ filename: join(dataDir, "agent-runtime.sqlite") });
  if (database.trim() === "") {
    throw new Error(
      `${setting} is set but empty: set it to a postgres:// URL or a SQLite file, or unset it to use SQLite in the data dir`,
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(database)?.[1];
  if (scheme === undefined) return createSqlitePersistenceAdapter({ filename: database });
  if (["postgres:", "postgresql:"].includes(scheme.toLowerCase()))
    return createPostgresPersistenceAdapter({ connectionString: database });
  throw new Error(
    `${setting} names a ${scheme}// database: only postgres:// URLs and SQLite files are supported`,
  );
}

/** `agent-runtime serve`: wires the embedded defaults together and runs until SIGINT/SIGTERM. */
export async function runServe(options: ServeOptions): Promise<void> {
  const logger = pino(
    { level: options.logLevel },
    process.env.LOG_FORMAT === "json" ? undefined : pretty({ colorize: process.stdout.isTTY, sync: true }),
  );
  const dataDir = resolve(options.dataDir);
  const cluster = options.cluster ? await joinCluster(options, options.cluster, logger) : undefined;
  const persistence = cluster
    ? createPostgresPersistenceAdapter({
        connectionString: options.database!,
        fence: cluster.ownership.fence,
      })
    : persistenceFor(options.database, options.databaseSetting ?? "--database", dataDir);
  const sandbox: SandboxProvider =
    options.sandbox === "modal"
      ? createModalSandboxProvider(options.modal)
      : createLocalSandboxProvider({
          rootDir: join(dataDir, "sandboxes"),
          unsafeNoIsolation: options.unsafeNoIsolation,
          ...(options.sandboxCpus === undefined ? {} : { limits: { cpus: options.sandboxCpus } }),
        });
  if (options.unsafeNoIsolation) {
    logger.warn("UNSAFE: agents run WITHOUT isolation, directly on this machine (--unsafe-no-isolation)");
  }

  let model: ModelEndpoint;
  let demo: MockModel | undefined;
  if (options.modelApiKey) {
    model = {
      apiKey: options.modelApiKey,
      ...(options.modelBaseUrl ? { baseUrl: options.modelBaseUrl } : {}),
    };
  } else {
    const { startMockModel } = await loadMockModel();
    // Every session shares the demo model: its request log (their prompts) is not served over HTTP.
    demo = await startMockModel({ demo: true, port: 0, inspection: false });
    model = { baseUrl: demo.url, apiKey: "demo-model-key" };
    logger.warn(
      `No ANTHROPIC_API_KEY set: agents talk to the built-in demo model (${demo.url}). Set ANTHROPIC_API_KEY to use a real model.`,
    );
  }

  const profileDirs = options.profileDirs?.length
    ? options.profileDirs.map((dir) => resolve(dir))
    : [resolve("profiles")].filter((dir) => existsSync(dir));
  const runtime = createAgentRuntime({
    persistence,
    sandbox,
    profileDirs,
    model,
    idleTimeoutMs: options.idleTimeoutSeconds * 1000,
    ...(options.suspendAfterSeconds === undefined
      ? {}
      : { suspendAfterMs: options.suspendAfterSeconds * 1000 }),
    modelStallTimeoutMs: Math.round(options.modelStallTimeoutSeconds * 1000),
    egress: options.egress,
    ...(options.dependencies ? { dependencies: options.dependencies } : {}),
    ...(options.modelProviders ? { modelProviders: options.modelProviders } : {}),
    ...(options.maxConcurrentStarts === undefined
      ? {}
      : { maxConcurrentStarts: options.maxConcurrentStarts }),
    ...(options.quotas ? { quotas: options.quotas } : {}),
    ...(cluster ? { ownership: cluster.ownership } : {}),
    ...(options.warmPool
      ? { warmPool: { size: options.warmPool, profiles: options.warmPoolProfiles ?? [] } }
      : {}),
    logger,
  });
  const { apiKeysFile } = options;
  const apiKeys = async (): Promise<ApiKeyEntry[]> => [
    ...options.apiKeys,
    ...(apiKeysFile === undefined ? [] : await readApiKeysFile(apiKeysFile)),
  ];
  const tracing = await tracingFromEnv(process.env);
  const observability = options.observability ?? {};
  const server = await createAgentServer({
    runtime,
    observability: {
      ...(tracing ? { tracing } : {}),
      ...(observability.metricsTenantLabels
        ? { metrics: { tenantLabels: observability.metricsTenantLabels } }
        : {}),
      auditRetentionMs: (observability.auditRetentionDays ?? 90) * 86_400_000,
    },
    apiKeys: await apiKeys(),
    ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
    demoModel: demo !== undefined,
    studio: true,
    ...(cluster ? { cluster } : {}),
    ...(options.basePath ? { basePath: options.basePath } : {}),
    ...options.http,
    ...options.socketLimits,
  });
  const url = await server.listen({ port: options.port, host: options.host });
  const metricsListener =
    observability.metricsPort === undefined
      ? undefined
      : await startMetricsListener(server.metrics, {
          port: observability.metricsPort,
          host: observability.metricsHost ?? options.host,
        });
  if (metricsListener) logger.info(`Prometheus metrics at ${metricsListener.url}/metrics`);
  if (tracing) logger.info("Tracing on: spans go to the OTLP endpoint the OTEL_* variables name");
  if (cluster) logger.info(`Cluster node ${cluster.nodeId}, reached at ${cluster.advertiseUrl}`);
  logger.info(
    `Agent Runtime listening on ${url} (data: ${dataDir}, sandbox: ${options.sandbox}, profiles: ${profileDirs.join(", ") || "none"})`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: shutting down`);
    await server.close();
    await metricsListener?.close();
    await tracing?.shutdown().catch(() => undefined);
    await demo?.close();
    process.exit(0);
  };
  if (apiKeysFile !== undefined) {
    // Rotation without a restart: a file that fails to load or validate leaves the keys as they were.
    process.on("SIGHUP", () => {
      void apiKeys()
        .then((entries) => {
          server.replaceApiKeys(entries);
          logger.info(`SIGHUP: API keys reloaded from ${apiKeysFile} (${entries.length} entries)`);
        })
        .catch((error: unknown) =>
          logger.error(`SIGHUP: API keys not reloaded, the previous ones stay: ${errorMessage(error)}`),
        );
    });
  }
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/**
 * Connects this node to its cluster (`--redis-url`): the database must be
 * PostgreSQL (the nodes share it), and the node needs a fixed port or an
 * `--advertise-url` for the others to reach it.
 */
async function joinCluster(
  options: ServeOptions,
  cluster: ClusterServeOptions,
  logger: Logger,
): Promise<Cluster> {
  const setting = options.databaseSetting ?? "--database";
  if (!options.database || !/^postgres(ql)?:\/\//i.test(options.database)) {
    throw new Error(
      `Cluster mode (--redis-url) needs a PostgreSQL database shared by the nodes: set ${setting} to a postgres:// URL`,
    );
  }
  if (options.port === 0 && cluster.advertiseUrl === undefined) {
    throw new Error(
      "Cluster mode needs a fixed --port, or an --advertise-url where the other nodes reach this node",
    );
  }
  return Cluster.connect({
    databaseUrl: options.database,
    redisUrl: cluster.redisUrl,
    nodeId: cluster.nodeId ?? defaultNodeId(options.port),
    advertiseUrl: cluster.advertiseUrl ?? defaultAdvertiseUrl(options.host, options.port),
    ...(cluster.keyPrefix === undefined ? {} : { keyPrefix: cluster.keyPrefix }),
    ...(cluster.leaseTtlSeconds === undefined
      ? {}
      : { leaseTtlMs: Math.round(cluster.leaseTtlSeconds * 1000) }),
    logger,
  });
}
