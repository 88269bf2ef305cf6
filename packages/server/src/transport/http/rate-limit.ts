import fastifyRateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import { RuntimeError } from "../../errors.js";
import { callerKey } from "../api-keys.js";

export interface RateLimitOptions {
  /** Requests allowed per caller and window. @default 600 */
  readonly max?: number;
  /** Window length in ms. @default 60_000 */
  readonly windowMs?: number;
}

/**
 * Limits requests per caller (see `callerKey`). Over the limit: 429
 * `RATE_LIMITED` with `Retry-After` (seconds), before authentication and
 * before the body is read. Counters live in this process's memory.
 * Register after the hook that sets `request.credential` and before the
 * authentication hook that refuses requests.
 */
export async function installRateLimit(app: FastifyInstance, options: RateLimitOptions = {}): Promise<void> {
  // Not per route (`global: false`): one app-wide hook, so it runs before the authentication hook
  // and also covers unknown paths and static files.
  await app.register(fastifyRateLimit, {
    global: false,
    max: options.max ?? 600,
    timeWindow: options.windowMs ?? 60_000,
    keyGenerator(request) {
      const { credential } = request;
      return callerKey(credential?.ok ? credential.caller : null, request.ip);
    },
    errorResponseBuilder(_request, context) {
      return new RuntimeError("RATE_LIMITED", `Rate limit exceeded; retry in ${context.after}`);
    },
  });
  app.addHook("onRequest", app.rateLimit());
}
