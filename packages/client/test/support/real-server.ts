import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
// From source, like the server's own suites: the root vitest config's `resolve.conditions` does not reach
// Vite's SSR environment, so the bare package names would load possibly stale `dist` builds.
import { type ScriptInput, startMockModel } from "../../../mock-model/src/index.js";
import {
  type AgentServerOptions,
  createAgentRuntime,
  createAgentServer,
  createLocalSandboxProvider,
  createMemoryPersistenceAdapter,
} from "../../../server/src/index.js";

export interface RealServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A real Agent Runtime server (memory persistence, local sandboxes, the real
 * Claude Code) answering through the scripted mock model. Shared by the
 * client and React end-to-end suites.
 */
export async function startRealServer(
  script: ScriptInput,
  /** Further server options (e.g. socket limits). */
  serverOptions: Partial<Omit<AgentServerOptions, "runtime">> = {},
): Promise<RealServer> {
  const dir = await mkdtemp(join(tmpdir(), "agent-runtime-client-test-"));
  // Sandboxes run as other users, which must be able to enter it.
  await chmod(dir, 0o711);
  const mock = await startMockModel({ script });
  const runtime = createAgentRuntime({
    persistence: createMemoryPersistenceAdapter(),
    sandbox: createLocalSandboxProvider({ rootDir: join(dir, "sandboxes") }),
    agents: [{ id: "test", name: "Test agent", systemPrompt: "You are the test agent." }],
    model: { baseUrl: mock.url, apiKey: "test-key" },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" }),
    idleTimeoutMs: 0,
  });
  const server = await createAgentServer({ runtime, ...serverOptions });
  const url = await server.listen({ port: 0 });
  return {
    url,
    async close() {
      await server.close();
      await mock.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `predicate` holds for the store's snapshot (checked now and after every change). */
export function waitForState<S>(
  store: { getSnapshot(): S; subscribe(listener: () => void): () => void },
  predicate: (state: S) => boolean,
  timeoutMs = 60_000,
): Promise<S> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const state = store.getSnapshot();
      if (!predicate(state)) return false;
      clearTimeout(timer);
      unsubscribe();
      resolve(state);
      return true;
    };
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`Timed out waiting for state: ${JSON.stringify(store.getSnapshot()).slice(0, 2000)}`));
    }, timeoutMs);
    const unsubscribe = store.subscribe(check);
    check();
  });
}
