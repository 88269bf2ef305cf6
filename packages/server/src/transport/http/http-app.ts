import type { IncomingMessage, ServerResponse } from "node:http";
import fastifySwagger from "@fastify/swagger";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawServerDefault,
} from "fastify";
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { Logger } from "pino";
import type { AgentRuntime } from "../../core/agent-runtime.js";
import { bearerToken } from "../api-keys.js";
import type { Credentials } from "../credentials.js";
import { type TrustProxy, trustFunction } from "../trusted-proxies.js";
import { basePathRewriter, isOutsideBasePath } from "./base-path.js";
import {
  installErrorHandlers,
  replyToClientError,
  replyToFrameworkError,
  sendError,
} from "./error-handler.js";
import { type HealthInfo, healthRoutes } from "./health.js";
import { type HttpTimeoutOptions, httpServerTimeouts } from "./http-timeouts.js";
import { installJsonBodyParser } from "./json-body-parser.js";
import { installRateLimit, type RateLimitOptions } from "./rate-limit.js";
import { decorateCaller } from "./request-caller.js";
import { architectureRoutes } from "./routes/architectures.js";
import { eventRoutes } from "./routes/events.js";
import { type FileRouteOptions, fileRoutes } from "./routes/files.js";
import { profileRoutes } from "./routes/profiles.js";
import { sessionLifecycleRoutes } from "./routes/session-lifecycle.js";
import { sessionRoutes } from "./routes/sessions.js";
import { tokenRoutes } from "./routes/tokens.js";
import { usageRoutes } from "./routes/usage.js";
import { workspaceRoutes } from "./routes/workspace.js";

/** The REST app: fastify with zod validation. */
export type HttpApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface HttpAppOptions {
  readonly runtime: AgentRuntime;
  /** The accepted API keys and browser tokens. */
  readonly credentials: Credentials;
  readonly info: HealthInfo;
  readonly logger: Logger;
  /** Largest accepted request body in bytes. @default 10_485_760 */
  readonly bodyLimit?: number;
  /** Paths served without a key (besides `/health` and `/openapi.json`), e.g. the Studio's assets. */
  readonly publicPathPrefixes?: readonly string[];
  /** Exact paths served without a key, e.g. the Studio's `/` (which no prefix can express). */
  readonly publicPaths?: readonly string[];
  /** Requests per caller (API key, else IP) and window; `false` turns limiting off. @default {max: 600, windowMs: 60_000} */
  readonly rateLimit?: RateLimitOptions | false;
  /** Limits of the workspace file routes (see `FileRouteOptions` for the defaults). */
  readonly files?: FileRouteOptions;
  /**
   * Route prefix, normalized (see `normalizeBasePath`): every route answers
   * under it (routes are declared without it) and a request outside it is a
   * `404`. @default "" (none)
   */
  readonly basePath?: string;
  /**
   * Which proxies' `X-Forwarded-For` (and `-Proto`, `-Host`) to believe, with
   * fastify's `trustProxy` semantics: `true` every hop, a number of hops,
   * or addresses and CIDR ranges (`"127.0.0.1,10.0.0.0/8"`, `"loopback"`).
   * It decides the address the per-IP rate limit counts. @default false (the peer's address)
   */
  readonly trustProxy?: TrustProxy;
  /** How long a client may take to send its request, and idle connections' lifetime (see `HttpTimeoutOptions`). */
  readonly timeouts?: HttpTimeoutOptions;
}

/** Builds the REST API: routes, validation, auth, JSON errors, `/openapi.json`. */
export async function createHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 10_485_760,
    genReqId: () => crypto.randomUUID(),
    forceCloseConnections: true,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 1100 },
    clientErrorHandler: replyToClientError,
    frameworkErrors: replyToFrameworkError,
    ...(options.basePath ? { rewriteUrl: basePathRewriter(options.basePath) } : {}),
    trustProxy: trustFunction(options.trustProxy) ?? false,
    ...httpServerTimeouts(options.timeouts),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  installJsonBodyParser(app);

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: "Agent Runtime API", version: options.info.version },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: options.credentials.keys.required ? [{ bearer: [] }] : [],
      ...(options.basePath ? { servers: [{ url: options.basePath }] } : {}),
    },
    transform: jsonSchemaTransform,
  });

  decorateCaller(app);
  const { basePath } = options;
  if (basePath) {
    app.addHook("onRequest", async (request, reply) => {
      if (isOutsideBasePath(basePath, request.originalUrl)) {
        const path = request.originalUrl.split("?")[0];
        return sendError(reply, request, "NOT_FOUND", `No route for ${request.method} ${path}`);
      }
    });
  }
  // Resolved before the rate limit, which counts a request against its credential.
  app.addHook("onRequest", async (request) => {
    request.credential = await options.credentials.resolve(bearerToken(request.headers.authorization));
  });
  if (options.rateLimit !== false) await installRateLimit(app, options.rateLimit);

  const publicPaths = new Set(["/health", "/openapi.json", ...(options.publicPaths ?? [])]);
  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    if (publicPaths.has(path) || options.publicPathPrefixes?.some((prefix) => path.startsWith(prefix)))
      return;
    const { credential } = request;
    if (!credential?.ok) {
      return sendError(reply, request, credential?.code ?? "UNAUTHORIZED", credential?.message ?? "");
    }
    request.caller = credential.caller;
    if (request.caller.readOnly && request.method !== "GET" && request.method !== "HEAD")
      return sendError(reply, request, "FORBIDDEN", "This credential allows reads only");
  });

  await app.register(healthRoutes, { info: options.info });
  await app.register(architectureRoutes, { runtime: options.runtime });
  await app.register(profileRoutes, { runtime: options.runtime });
  await app.register(sessionRoutes, { runtime: options.runtime });
  await app.register(sessionLifecycleRoutes, { runtime: options.runtime });
  await app.register(eventRoutes, { runtime: options.runtime, credentials: options.credentials });
  await app.register(tokenRoutes, { tokens: options.credentials.tokens });
  await app.register(usageRoutes, { runtime: options.runtime });
  await app.register(fileRoutes, { runtime: options.runtime, files: options.files ?? {} });
  await app.register(workspaceRoutes, { runtime: options.runtime, files: options.files ?? {} });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}
