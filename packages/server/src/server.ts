import type { AddressInfo } from "node:net";
import type { Server as SocketServer } from "socket.io";
import type { Cluster } from "./cluster/cluster.js";
import type { AgentRuntime } from "./core/agent-runtime.js";
import type { AuditTrail } from "./observability/audit-trail.js";
import type { RuntimeMetrics } from "./observability/runtime-metrics.js";
import { attachObservability, type ObservabilityOptions } from "./observability/server-observability.js";
import { ApiKeyChecker, type ApiKeyEntry } from "./transport/api-keys.js";
import { TokenAuthority, type TokenOptions } from "./transport/auth-tokens.js";
import { Credentials } from "./transport/credentials.js";
import { normalizeBasePath } from "./transport/http/base-path.js";
import { installClusterForwarding } from "./transport/http/cluster-forwarding.js";
import { sendError } from "./transport/http/error-handler.js";
import { createHttpApp, type HttpApp } from "./transport/http/http-app.js";
import type { HttpTimeoutOptions } from "./transport/http/http-timeouts.js";
import type { RateLimitOptions } from "./transport/http/rate-limit.js";
import type { FileRouteOptions } from "./transport/http/routes/files.js";
import {
  defaultStudioDir,
  hasStudioBuild,
  studioPublicPaths,
  studioRoutes,
} from "./transport/http/studio.js";
import type { SocketLimitsInput } from "./transport/socket/socket-limits.js";
import { attachSocketTransport } from "./transport/socket/socket-transport.js";
import { VERSION } from "./version.js";

export interface AgentServerOptions {
  /** A runtime from `createAgentRuntime`; the server starts and stops it. */
  readonly runtime: AgentRuntime;
  /**
   * Cluster mode (see docs/deployment.md): the runtime's `ownership` must be
   * this cluster's. Requests for sessions another node runs are forwarded
   * there, sockets follow sessions on the shared event stream, and `close()`
   * drains: the node leaves the cluster, its sessions are synced and
   * released, and another node takes each over at its next request.
   */
  readonly cluster?: Cluster;
  /**
   * Accepted bearer keys; empty means no auth. A string is an admin key
   * (every session, any tenant); `{tenant, key}` is a key of that tenant
   * (its sessions only; see `ApiKeyEntry`). Throws `VALIDATION_FAILED` for
   * an invalid entry or a key given to two callers. @default []
   */
  readonly apiKeys?: readonly ApiKeyEntry[];
  /**
   * Browser tokens (`POST /auth/tokens`, see `docs/api/tenants.md`): the
   * HS256 secret, lifetimes, and the keys of tokens an application signs
   * itself. Throws `VALIDATION_FAILED` for a secret under 32 bytes.
   * @default a random secret per process (tokens stop working when it restarts; every node of a cluster needs the same secret)
   */
  readonly tokens?: TokenOptions;
  /** Shown by `/health` so clients can label the demo model. @default false */
  readonly demoModel?: boolean;
  /** Largest request body in bytes. @default 10_485_760 */
  readonly bodyLimit?: number;
  /**
   * Route prefix for applications that mount the API under a path, e.g.
   * `"/api"`: the REST routes, `/openapi.json`, socket.io (at
   * `<basePath>/socket.io/`) and the Studio answer under it, and a request
   * outside it is a `404`; `listen` resolves with the URL including it.
   * Throws `VALIDATION_FAILED` for a value that is not a path prefix (see
   * `normalizeBasePath`). @default "" (the root)
   */
  readonly basePath?: string;
  /** Allowed CORS origins for the socket. @default true (any) */
  readonly corsOrigin?: string | string[] | boolean;
  /**
   * Serves the Studio web app at `/` (its files and client-side routes are
   * public; the API stays protected). `true` serves this monorepo's build
   * (`apps/studio/dist`); `{distDir}` serves another build. A missing build
   * is logged as a warning and the API runs without the Studio.
   * @default false
   */
  readonly studio?: boolean | { readonly distDir: string };
  /**
   * Outgoing bytes a socket client may have queued before it is dropped as a
   * slow consumer (it can reconnect and resume). @default 16_777_216
   */
  readonly maxSocketBufferedBytes?: number;
  /** How long a socket client may read nothing it was sent before it is dropped as a slow consumer. @default 30_000 */
  readonly socketStallTimeoutMs?: number;
  /** Largest incoming socket frame; a bigger one closes the socket. @default 1_048_576 */
  readonly maxSocketFrameBytes?: number;
  /** Sockets one API key (or one address, without keys) may hold at once. @default 100 */
  readonly maxSocketsPerCaller?: number;
  /**
   * Socket events per API key (or per address, without keys), over all its
   * sockets; `false` disables.
   * @default { eventsPerSecond: 20, burst: 200, maxRefusedInARow: 20 }
   */
  readonly socketRateLimit?: SocketLimitsInput["rateLimit"];
  /**
   * Requests per window per API key or token (`perKey`) and per client
   * address for requests without one (`perIp`); `false` disables either,
   * or both. @default 600 per minute each
   */
  readonly rateLimit?: RateLimitOptions | false;
  /**
   * Which reverse proxies' `X-Forwarded-For` to believe (fastify's
   * `trustProxy`: `true`, a hop count, or addresses/CIDRs such as
   * `"loopback"` or `"10.0.0.0/8"`), so clients behind a proxy are counted
   * by their own address, by the HTTP rate limit and by the socket limits
   * alike. Without it the header is ignored. @default false
   */
  readonly trustProxy?: boolean | number | string;
  /** Time limits of incoming requests and idle connections (see `HttpTimeoutOptions` for the defaults). */
  readonly httpTimeouts?: HttpTimeoutOptions;
  /**
   * Limits of the workspace file routes: the largest file read answers
   * (413 `FILE_TOO_LARGE` past it; a `Range` within it still reads the
   * file) and the largest raw `PUT` body. @default {maxReadBytes: 4 GiB, maxWriteBytes: 100 MiB}
   */
  readonly files?: FileRouteOptions;
  /**
   * Metrics (`GET /metrics`, admin), readiness (`GET /ready`, public), the
   * audit trail (`GET /audit`) and OpenTelemetry tracing (off unless a
   * tracer provider is given); see `docs/observability.md`.
   * @default { metrics: { processMetrics: true } } (no tracing)
   */
  readonly observability?: ObservabilityOptions;
}

export interface AgentServer {
  readonly app: HttpApp;
  readonly io: SocketServer;
  readonly runtime: AgentRuntime;
  /** This server's Prometheus metrics, in a registry of its own (`startMetricsListener` serves them on another port). */
  readonly metrics: RuntimeMetrics;
  /** The audit trail of state-changing requests (logged, and stored when the adapter can). */
  readonly audit: AuditTrail;
  /**
   * Replaces the accepted keys at once (a rotation: `serve` calls it on
   * SIGHUP with its keys file). A socket whose key is no longer accepted is
   * disconnected. Throws `VALIDATION_FAILED`, keeping the keys, for an
   * invalid list and for one that would turn authentication on or off.
   */
  replaceApiKeys(entries: readonly ApiKeyEntry[]): void;
  /** Starts the runtime and listens. Resolves with the bound URL (with the `basePath`, if any). */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /**
   * Graceful shutdown: new requests get 503 `SHUTTING_DOWN`, sockets are
   * closed, sessions are synced and their sandboxes terminated. Idempotent.
   */
  close(): Promise<void>;
}

/** REST + WebSocket server over a runtime. */
export async function createAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const { runtime } = options;
  const apiKeys = new ApiKeyChecker(options.apiKeys ?? []);
  const credentials = new Credentials(apiKeys, new TokenAuthority(options.tokens));
  let closing: Promise<void> | undefined;
  const basePath = normalizeBasePath(options.basePath);
  const studioDir = resolveStudioDir(options.studio, runtime.logger);
  const studioPaths = studioDir ? studioPublicPaths(studioDir) : undefined;
  const app = await createHttpApp({
    runtime,
    credentials,
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.httpTimeouts === undefined ? {} : { timeouts: options.httpTimeouts }),
    logger: runtime.logger,
    ...(basePath ? { basePath } : {}),
    info: { version: VERSION, demoModel: options.demoModel ?? false, authRequired: apiKeys.required },
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    ...(options.files === undefined ? {} : { files: options.files }),
    publicPaths: ["/ready", ...(studioPaths?.paths ?? [])],
    ...(studioPaths ? { publicPathPrefixes: studioPaths.prefixes } : {}),
  });
  if (studioDir) await app.register(studioRoutes, { distDir: studioDir, basePath });
  app.addHook("onRequest", async (request, reply) => {
    if (closing) return sendError(reply, request, "SHUTTING_DOWN", "The server is shutting down");
  });
  const { cluster } = options;
  if (cluster) installClusterForwarding(app, cluster);
  const io = attachSocketTransport(app.server, {
    runtime,
    credentials,
    basePath,
    ...(options.corsOrigin === undefined ? {} : { corsOrigin: options.corsOrigin }),
    // Absent limits take the transport's defaults.
    maxBufferedBytes: options.maxSocketBufferedBytes,
    stallTimeoutMs: options.socketStallTimeoutMs,
    maxFrameBytes: options.maxSocketFrameBytes,
    maxSocketsPerCaller: options.maxSocketsPerCaller,
    rateLimit: options.socketRateLimit,
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(cluster ? { cluster: { bus: cluster.bus } } : {}),
  });
  const observability = await attachObservability(
    app,
    io,
    runtime,
    cluster
      ? {
          ...options.observability,
          readiness: { ...options.observability?.readiness, cluster: () => cluster.checkMembership() },
        }
      : options.observability,
  );

  return {
    app,
    io,
    runtime,
    metrics: observability.metrics,
    audit: observability.audit,
    replaceApiKeys: (entries) => apiKeys.replace(entries),
    async listen({ port = 0, host = "127.0.0.1" } = {}) {
      await runtime.start();
      // Storage is ready (migrated) only now: the audit trail's retention starts pruning from here.
      observability.audit.start();
      await app.listen({ port, host });
      cluster?.start(runtime.sessions);
      const address = app.server.address() as AddressInfo;
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return `http://${shownHost}:${address.port}${basePath}`;
    },
    close() {
      closing ??= (async () => {
        // A cluster node leaves first, so the others stop forwarding to it, and lets running turns finish.
        if (cluster) {
          await cluster.drain();
          await runtime.sessions.waitUntilIdle(cluster.drainTimeoutMs);
        }
        // Sessions end first (interrupting turns, denying open permission requests, syncing), so
        // connected clients still receive those final events before their sockets close.
        // Audit records still waiting are stored before persistence closes with the runtime.
        await observability.close();
        await runtime.shutdown();
        // Socket events go out on the next turn of the event loop (see `RoomFanout`).
        await new Promise((resolve) => setImmediate(resolve));
        io.disconnectSockets(true);
        await app.close();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        await cluster?.close();
      })();
      return closing;
    },
  };
}

/** The Studio build folder to serve, or undefined (not wanted, or not built: then a warning). */
function resolveStudioDir(
  studio: AgentServerOptions["studio"],
  logger: AgentRuntime["logger"],
): string | undefined {
  if (!studio) return undefined;
  const distDir = studio === true ? defaultStudioDir() : studio.distDir;
  if (hasStudioBuild(distDir)) return distDir;
  logger.warn(`Studio not served: no build in ${distDir} (run \`npm run build\`)`);
  return undefined;
}
