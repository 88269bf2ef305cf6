import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { MockModel } from "@agent-runtime/mock-model";
import { pino } from "pino";
import pretty from "pino-pretty";
import type { ModelEndpoint } from "../agents/agent-architecture.js";
import { createAgentRuntime } from "../core/agent-runtime.js";
import { createPostgresPersistenceAdapter } from "../persistence/postgres/postgres-persistence-adapter.js";
import { createSqlitePersistenceAdapter } from "../persistence/sqlite/sqlite-persistence-adapter.js";
import { createLocalSandboxProvider } from "../sandboxes/local/local-sandbox-provider.js";
import { createModalSandboxProvider } from "../sandboxes/modal/modal-sandbox-provider.js";
import type { SandboxProvider } from "../sandboxes/sandbox-provider.js";
import { createAgentServer } from "../server.js";
import { loadMockModel } from "./load-mock-model.js";

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly database?: string;
  readonly profileDirs?: readonly string[];
  readonly sandbox: "local" | "modal";
  readonly modalTokenId?: string;
  readonly modalTokenSecret?: string;
  readonly unsafeNoIsolation: boolean;
  /** CPU time per local sandbox, in cores. */
  readonly sandboxCpus?: number;
  readonly egress: "restricted" | "open";
  readonly modelBaseUrl?: string;
  readonly modelApiKey?: string;
  readonly apiKeys: readonly string[];
  readonly idleTimeoutSeconds: number;
  readonly logLevel: string;
}

/** `agent-runtime serve`: wires the embedded defaults together and runs until SIGINT/SIGTERM. */
export async function runServe(options: ServeOptions): Promise<void> {
  const logger = pino(
    { level: options.logLevel },
    process.env.LOG_FORMAT === "json" ? undefined : pretty({ colorize: process.stdout.isTTY, sync: true }),
  );
  const dataDir = resolve(options.dataDir);
  const persistence = options.database?.startsWith("postgres")
    ? createPostgresPersistenceAdapter({ connectionString: options.database })
    : createSqlitePersistenceAdapter({ filename: options.database ?? join(dataDir, "agent-runtime.sqlite") });
  const sandbox: SandboxProvider =
    options.sandbox === "modal"
      ? createModalSandboxProvider({
          ...(options.modalTokenId ? { tokenId: options.modalTokenId } : {}),
          ...(options.modalTokenSecret ? { tokenSecret: options.modalTokenSecret } : {}),
        })
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
    demo = await startMockModel({ demo: true, port: 0 });
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
    egress: options.egress,
    logger,
  });
  const server = await createAgentServer({
    runtime,
    apiKeys: options.apiKeys,
    demoModel: demo !== undefined,
    studio: true,
  });
  const url = await server.listen({ port: options.port, host: options.host });
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
    await demo?.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
