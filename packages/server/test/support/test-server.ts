import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MockModel, type ScriptInput, startMockModel } from "@agent-runtime/mock-model";
import type { AgentProfileInput } from "@agent-runtime/protocol";
import { pino } from "pino";
import {
  type AgentRuntimeOptions,
  type AgentServer,
  type AgentServerOptions,
  type ApiKeyEntry,
  createAgentRuntime,
  createAgentServer,
  createLocalSandboxProvider,
  createSqlitePersistenceAdapter,
  type LocalSandboxOptions,
  type PersistenceAdapter,
  type SandboxProvider,
} from "../../src/index.js";

export interface TestServerOptions {
  readonly script?: ScriptInput;
  /** Reuse a data folder (restart tests). @default a new temp folder */
  readonly dataDir?: string;
  /** Reuse a running mock model. */
  readonly mock?: MockModel;
  /** Admin keys, and `{tenant, key}` keys of tenants (see `AgentServerOptions.apiKeys`). */
  readonly apiKeys?: readonly ApiKeyEntry[];
  readonly idleTimeoutMs?: number;
  readonly agents?: readonly AgentProfileInput[];
  readonly permissionTimeoutMs?: number;
  /** Serve the Studio build (see `AgentServerOptions.studio`). @default false */
  readonly studio?: boolean;
  /** Where the server stores its sessions (e.g. PostgreSQL). @default SQLite in the data folder */
  readonly persistence?: PersistenceAdapter;
  /** Wraps the persistence adapter (e.g. in a test double of a failing disk). */
  readonly wrapPersistence?: (adapter: PersistenceAdapter) => PersistenceAdapter;
  /** Wraps the local sandbox provider (e.g. in a test double of a hostile sandbox). */
  readonly wrapSandbox?: (local: SandboxProvider) => SandboxProvider;
  /** Resource limits of the local sandboxes (see `LocalSandboxOptions.limits`). */
  readonly sandboxLimits?: LocalSandboxOptions["limits"];
  /** Further runtime options (window size, retry delays, grace periods, …). */
  readonly runtime?: Partial<Omit<AgentRuntimeOptions, "persistence" | "sandbox" | "model">>;
  /** Further server options (socket limits, rate limit, …). */
  readonly server?: Partial<Omit<AgentServerOptions, "runtime" | "apiKeys" | "studio">>;
}

export interface TestServer {
  readonly url: string;
  readonly server: AgentServer;
  readonly mock: MockModel;
  readonly dataDir: string;
  /** Stops the server (and the mock model when this server started it). Keeps the data folder. */
  stop(): Promise<void>;
  /** Stops and deletes the data folder. */
  dispose(): Promise<void>;
}

export const TEST_PROFILE: AgentProfileInput = {
  id: "test",
  name: "Test agent",
  systemPrompt: "You are the test agent.",
  agentMDFile: "# Test workspace\n",
};

/** A real server: SQLite in a temp folder (unless `persistence` is given), real bubblewrap sandboxes, the real Claude Code against the mock model. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "agent-runtime-test-")));
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(dataDir, 0o711);
  const ownMock = options.mock === undefined;
  const mock = options.mock ?? (await startMockModel({ script: options.script ?? { rules: [] } }));
  const persistence =
    options.persistence ??
    createSqlitePersistenceAdapter({ filename: join(dataDir, "agent-runtime.sqlite") });
  const local = createLocalSandboxProvider({
    rootDir: join(dataDir, "sandboxes"),
    ...(options.sandboxLimits ? { limits: options.sandboxLimits } : {}),
  });
  const runtime = createAgentRuntime({
    persistence: options.wrapPersistence ? options.wrapPersistence(persistence) : persistence,
    sandbox: options.wrapSandbox ? options.wrapSandbox(local) : local,
    agents: options.agents ?? [TEST_PROFILE],
    model: { baseUrl: mock.url, apiKey: "test-model-key" },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" }),
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    syncIntervalMs: 500,
    ...(options.permissionTimeoutMs === undefined
      ? {}
      : { permissionTimeoutMs: options.permissionTimeoutMs }),
    ...options.runtime,
  });
  const server = await createAgentServer({
    runtime,
    apiKeys: options.apiKeys ?? [],
    studio: options.studio ?? false,
    ...options.server,
  });
  const url = await server.listen({ port: 0 });
  const stop = async () => {
    await server.close();
    if (ownMock) await mock.close();
  };
  return {
    url,
    server,
    mock,
    dataDir,
    stop,
    async dispose() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
