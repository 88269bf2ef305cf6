#!/usr/bin/env node
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { parseApiKeyList } from "../transport/api-keys.js";
import { VERSION } from "../version.js";
import { basePathOption } from "./base-path-option.js";
import { clusterCliOptions, clusterServeOptions } from "./cluster-cli-options.js";
import { httpCliOptions, httpServerOptions } from "./http-cli-options.js";
import { loadMockModel } from "./load-mock-model.js";
import { modalCliOptions, modalProviderOptions } from "./modal-cli-options.js";
import { parseModelProvidersOption } from "./model-providers-option.js";
import { numeric } from "./numeric-option.js";
import { observabilityCliOptions, observabilityServeOptions } from "./observability-cli-options.js";
import { withOpenCodeHostedProvider } from "./opencode-hosted-option.js";
import { quotaOptions } from "./quota-cli-options.js";
import { runServe } from "./serve.js";
import { tokenOptions } from "./token-cli-options.js";

const program = new Command()
  .name("agent-runtime")
  .description("Run AI coding agents in isolated sandboxes and stream what they do.")
  .version(VERSION);

program
  .command("serve", { isDefault: true })
  .description("Start the server (REST + WebSocket) with the embedded defaults")
  .addOption(new Option("-p, --port <port>", "port to listen on").env("PORT").default("3000"))
  .addOption(new Option("--host <host>", "address to bind").env("HOST").default("127.0.0.1"))
  .addOption(
    new Option(
      "--base-path <path>",
      "route prefix to serve everything under (REST, socket.io, the Studio), e.g. /api (default: the root)",
    )
      .env("AGENT_RUNTIME_BASE_PATH")
      .argParser(basePathOption),
  )
  .addOption(
    new Option("--data-dir <dir>", "where the SQLite file and local sandboxes live")
      .env("AGENT_RUNTIME_DATA_DIR")
      .default(".data"),
  )
  .addOption(
    new Option("--database <url>", "postgres://… for PostgreSQL; default: SQLite in the data dir").env(
      "DATABASE_URL",
    ),
  )
  .addOption(
    new Option("--profiles-dir <dir...>", "folders of agent profiles").env("AGENT_RUNTIME_PROFILES_DIR"),
  )
  .addOption(
    new Option("--sandbox <provider>", "sandbox provider")
      .choices(["local", "modal"])
      .env("AGENT_RUNTIME_SANDBOX")
      .default("local"),
  )
  .addOption(
    new Option(
      "--unsafe-no-isolation",
      "run agents WITHOUT a sandbox, directly on this machine (only for machines without bubblewrap)",
    ).env("AGENT_RUNTIME_UNSAFE_NO_ISOLATION"),
  )
  .addOption(
    new Option(
      "--sandbox-cpus <cores>",
      "CPU time each local sandbox may use, in cores (default: three quarters of the machine's, at least 1)",
    ).env("AGENT_RUNTIME_SANDBOX_CPUS"),
  )
  .addOption(
    new Option(
      "--egress <policy>",
      "sandbox egress: only the model (key injected outside the sandbox) and MCP servers, or open",
    )
      .choices(["restricted", "open"])
      .env("AGENT_RUNTIME_EGRESS")
      .default("restricted"),
  )
  .addOption(
    new Option(
      "--npm-registry <url>",
      "registry profiles' npm packages are installed from (default: this host's npm configuration)",
    ).env("AGENT_RUNTIME_NPM_REGISTRY"),
  )
  .addOption(
    new Option(
      "--pip-index-url <url>",
      "index profiles' pip packages are installed from (http(s) or file://; default: none, only --pip-find-links)",
    ).env("AGENT_RUNTIME_PIP_INDEX_URL"),
  )
  .addOption(
    new Option(
      "--pip-find-links <dirs>",
      "comma-separated folders of wheels and source archives pip may install profiles' packages from",
    ).env("AGENT_RUNTIME_PIP_FIND_LINKS"),
  )
  .addOption(
    new Option(
      "--max-concurrent-starts <count>",
      "agents that may start at once; the others wait, shown queued (default: the machine's cores)",
    )
      .env("AGENT_RUNTIME_MAX_CONCURRENT_STARTS")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--warm-pool <count>",
      "agents kept started ahead per profile and architecture in use; a fresh session's first message takes one (0: none)",
    )
      .env("AGENT_RUNTIME_WARM_POOL")
      .argParser(numeric)
      .default(0),
  )
  .addOption(
    new Option(
      "--warm-pool-profiles <ids>",
      "profiles kept warm from the start, comma-separated: `id` (Claude Code) or `id:architecture`",
    ).env("AGENT_RUNTIME_WARM_POOL_PROFILES"),
  )
  .addOption(
    new Option(
      "--model-providers <json>",
      'further OpenAI-compatible model providers for OpenCode, {"<name>": {"baseUrl": "…", "apiKeyEnv": "VAR"}}; sessions name their models "<name>/<model>"',
    ).env("AGENT_RUNTIME_MODEL_PROVIDERS"),
  )
  .addOption(
    new Option(
      "--opencode-base-url <url>",
      "endpoint of OpenCode's hosted models (opencode/<model>, key in OPENCODE_API_KEY) (default: OpenCode Zen)",
    ).env("OPENCODE_BASE_URL"),
  )
  .addOption(
    new Option("--model-base-url <url>", "Anthropic-compatible endpoint for the agents").env(
      "ANTHROPIC_BASE_URL",
    ),
  )
  .addOption(
    new Option(
      "--api-keys <keys>",
      "comma-separated keys clients must send as Bearer tokens: KEY (an admin key: every tenant) or TENANT:KEY (a key of that tenant)",
    ).env("AGENT_RUNTIME_API_KEYS"),
  )
  .addOption(
    new Option(
      "--api-keys-file <path>",
      'JSON file of keys, {"keys": ["ADMIN_KEY", {"tenant": "T", "key": "KEY"}]}, read again on SIGHUP',
    ).env("AGENT_RUNTIME_API_KEYS_FILE"),
  )
  .addOption(
    new Option(
      "--token-secret <secret>",
      "HS256 secret (32+ bytes) of the browser tokens POST /auth/tokens mints; the same on every node (default: random per process, tokens end with it)",
    ).env("AGENT_RUNTIME_TOKEN_SECRET"),
  )
  .addOption(
    new Option(
      "--token-jwks-url <url>",
      "JWKS URL of the keys an application signs its own browser tokens with",
    ).env("AGENT_RUNTIME_TOKEN_JWKS_URL"),
  )
  .addOption(
    new Option("--token-issuer <iss>", "required `iss` of application-signed tokens").env(
      "AGENT_RUNTIME_TOKEN_ISSUER",
    ),
  )
  .addOption(
    new Option("--token-audience <aud>", "required `aud` of application-signed tokens").env(
      "AGENT_RUNTIME_TOKEN_AUDIENCE",
    ),
  )
  .addOption(
    new Option(
      "--quotas-file <path>",
      'JSON quotas per tenant: {"default": {"sessions": N, ...}, "tenants": {"T": {...}}}',
    ).env("AGENT_RUNTIME_QUOTAS_FILE"),
  )
  .addOption(
    new Option("--quota-sessions <count>", "sessions each tenant may hold")
      .env("AGENT_RUNTIME_QUOTA_SESSIONS")
      .argParser(numeric),
  )
  .addOption(
    new Option("--quota-running-sandboxes <count>", "sandboxes each tenant may run at once")
      .env("AGENT_RUNTIME_QUOTA_RUNNING_SANDBOXES")
      .argParser(numeric),
  )
  .addOption(
    new Option("--quota-messages-per-minute <count>", "messages each tenant may send per minute")
      .env("AGENT_RUNTIME_QUOTA_MESSAGES_PER_MINUTE")
      .argParser(numeric),
  )
  .addOption(
    new Option("--quota-stored-bytes <bytes>", "workspace bytes each tenant may store")
      .env("AGENT_RUNTIME_QUOTA_STORED_BYTES")
      .argParser(numeric),
  )
  .addOption(
    new Option("--idle-timeout <seconds>", "tear an idle session's sandbox down after this long")
      .env("AGENT_RUNTIME_IDLE_TIMEOUT")
      .default("900"),
  )
  .addOption(
    new Option(
      "--suspend-after <seconds>",
      "freeze an idle session's agent after this long, until its next message (0: never)",
    )
      .env("AGENT_RUNTIME_SUSPEND_AFTER")
      .argParser(numeric)
      .default(60),
  )
  .addOption(
    new Option("--socket-max-frame-bytes <bytes>", "largest incoming socket frame (default: 1 MiB)")
      .env("AGENT_RUNTIME_SOCKET_MAX_FRAME_BYTES")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--socket-max-buffered-bytes <bytes>",
      "outgoing bytes a socket client may have queued before it is dropped as a slow consumer (default: 16 MiB)",
    )
      .env("AGENT_RUNTIME_SOCKET_MAX_BUFFERED_BYTES")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--socket-stall-timeout <seconds>",
      "drop a socket client that reads nothing it was sent for this long (default: 30)",
    )
      .env("AGENT_RUNTIME_SOCKET_STALL_TIMEOUT")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--socket-max-per-caller <count>",
      "sockets one API key (or one address, without keys) may hold at once (default: 100)",
    )
      .env("AGENT_RUNTIME_SOCKET_MAX_PER_CALLER")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--socket-events-per-second <rate>",
      "socket events one API key (or address) may send per second; 0 lifts the limit (default: 20)",
    )
      .env("AGENT_RUNTIME_SOCKET_EVENTS_PER_SECOND")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--socket-event-burst <count>",
      "socket events one API key (or address) may send at once (default: 200)",
    )
      .env("AGENT_RUNTIME_SOCKET_EVENT_BURST")
      .argParser(numeric),
  )
  .addOption(
    new Option(
      "--model-stall-timeout <seconds>",
      "end a turn with MODEL_STALLED when the model sends nothing for this long (0: never)",
    )
      .env("AGENT_RUNTIME_MODEL_STALL_TIMEOUT")
      .default("120"),
  )
  .addOption(
    new Option("--log-level <level>", "log level")
      .choices(["debug", "info", "warn", "error"])
      .env("LOG_LEVEL")
      .default("info"),
  )
  .action(async (options, command: Command) => {
    await runServe({
      port: Number(options.port),
      host: options.host,
      ...(options.basePath ? { basePath: String(options.basePath) } : {}),
      dataDir: options.dataDir,
      database: options.database,
      databaseSetting: command.getOptionValueSource("database") === "env" ? "DATABASE_URL" : "--database",
      profileDirs: options.profilesDir,
      sandbox: options.sandbox,
      unsafeNoIsolation: Boolean(options.unsafeNoIsolation),
      ...(options.sandboxCpus === undefined ? {} : { sandboxCpus: Number(options.sandboxCpus) }),
      egress: options.egress,
      dependencies: {
        ...(options.npmRegistry ? { npmRegistry: String(options.npmRegistry) } : {}),
        ...(options.pipIndexUrl ? { pipIndexUrl: String(options.pipIndexUrl) } : {}),
        ...(options.pipFindLinks
          ? {
              pipFindLinks: String(options.pipFindLinks)
                .split(",")
                .map((dir) => dir.trim())
                .filter((dir) => dir !== "")
                .map((dir) => resolve(dir)),
            }
          : {}),
      },
      modelBaseUrl: options.modelBaseUrl,
      ...(options.maxConcurrentStarts === undefined
        ? {}
        : { maxConcurrentStarts: options.maxConcurrentStarts }),
      warmPool: options.warmPool,
      ...(options.warmPoolProfiles === undefined
        ? {}
        : {
            warmPoolProfiles: String(options.warmPoolProfiles)
              .split(",")
              .map((id) => id.trim())
              .filter(Boolean),
          }),
      // OpenCode's hosted models' key is read from the environment only, like the model key.
      modelProviders: withOpenCodeHostedProvider(
        options.modelProviders ? parseModelProvidersOption(String(options.modelProviders)) : {},
        process.env.OPENCODE_API_KEY,
        options.opencodeBaseUrl === undefined ? undefined : String(options.opencodeBaseUrl),
      ),
      // The model key is read from the environment only, so it never shows in `ps`.
      modelApiKey: process.env.ANTHROPIC_API_KEY,
      // The Modal token is read from the environment only (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET).
      modal: modalProviderOptions(options, process.env),
      apiKeys: options.apiKeys ? parseApiKeyList(String(options.apiKeys)) : [],
      ...(options.apiKeysFile ? { apiKeysFile: String(options.apiKeysFile) } : {}),
      tokens: tokenOptions(options),
      quotas: await quotaOptions(options),
      idleTimeoutSeconds: Number(options.idleTimeout),
      suspendAfterSeconds: options.suspendAfter,
      modelStallTimeoutSeconds: Number(options.modelStallTimeout),
      logLevel: options.logLevel,
      cluster: clusterServeOptions(options),
      http: httpServerOptions(options),
      observability: observabilityServeOptions(options),
      socketLimits: {
        maxSocketFrameBytes: options.socketMaxFrameBytes,
        maxSocketBufferedBytes: options.socketMaxBufferedBytes,
        socketStallTimeoutMs:
          options.socketStallTimeout === undefined ? undefined : options.socketStallTimeout * 1000,
        maxSocketsPerCaller: options.socketMaxPerCaller,
        socketRateLimit:
          options.socketEventsPerSecond === 0
            ? false
            : { eventsPerSecond: options.socketEventsPerSecond, burst: options.socketEventBurst },
      },
    });
  });

for (const option of modalCliOptions())
  program.commands.find((command) => command.name() === "serve")!.addOption(option);
for (const option of httpCliOptions())
  program.commands.find((command) => command.name() === "serve")!.addOption(option);
for (const option of clusterCliOptions())
  program.commands.find((command) => command.name() === "serve")!.addOption(option);
for (const option of observabilityCliOptions())
  program.commands.find((command) => command.name() === "serve")!.addOption(option);

program
  .command("doctor")
  .description("Check that sessions can run on a sandbox provider: each step with its timing (Modal only)")
  .addOption(
    new Option("--sandbox <provider>", "sandbox provider to check").choices(["modal"]).default("modal"),
  )
  .addOption(
    new Option("--model-base-url <url>", "Anthropic-compatible endpoint, reachable from the sandbox").env(
      "ANTHROPIC_BASE_URL",
    ),
  )
  .addOption(
    new Option(
      "--egress <policy>",
      "the egress serve gives sessions: restricted (the model key in the sandbox's key proxy) or open",
    )
      .choices(["restricted", "open"])
      .env("AGENT_RUNTIME_EGRESS")
      .default("restricted"),
  )
  .action(async (options) => {
    const { runModalDoctor } = await import("./modal-doctor.js");
    const ok = await runModalDoctor({
      modal: modalProviderOptions(options, process.env),
      egress: options.egress === "open" ? "open" : "restricted",
      model: {
        ...(options.modelBaseUrl ? { baseUrl: String(options.modelBaseUrl) } : {}),
        // The model key is read from the environment only, so it never shows in `ps`.
        ...(process.env.ANTHROPIC_API_KEY ? { apiKey: process.env.ANTHROPIC_API_KEY } : {}),
      },
      write: (line) => console.log(line),
    });
    process.exitCode = ok ? 0 : 1;
  });
for (const option of modalCliOptions())
  program.commands.find((command) => command.name() === "doctor")!.addOption(option);

program
  .command("mock-model")
  .description("Start the scripted mock model server (Anthropic and OpenAI compatible)")
  .allowUnknownOption()
  .helpOption(false)
  .argument("[args...]")
  .action(async (args: string[]) => {
    const { runMockModelCli } = await loadMockModel();
    await runMockModelCli(args);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
