import fastifyRateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import { RuntimeError } from "../../errors.js";
import { callerKey } from "../api-keys.js";

export interface RateLimitOptions {
  /**
   * Requests allowed per window to each API key or token; `false`: keyed
   * requests are not limited. @default max
   */
  readonly perKey?: number | false;
  /**
   * Requests allowed per window to each client address, for requests
   * without a valid key (every request when no keys are configured); the
   * address is the peer's, or the forwarded one under `trustProxy`.
   * `false`: not limited. @default max
   */
  readonly perIp?: number | false;
  /** Requests per caller and window for `perKey` and `perIp` left unset. @default 600 */
  readonly max?: number;
  /** Window length in ms. @default 60_000 */
  readonly windowMs?: number;
}

/**
 * Limits requests per caller (see `callerKey`): an API key or token counts
 * against `perKey`, any other request against `perIp` by its address. Over
 * the limit: 429 `RATE_LIMITED` with `Retry-After` (seconds), before
 * authentication and before the body is read. Counters live in this
 * process's memory. Register after the hook that sets `request.credential`
 * and before the authentication hook that refuses requests. Throws
 * `VALIDATION_FAILED` for a limit or window that is not a positive integer.
 */
export async function installRateLimit(app: FastifyInstance, options: RateLimitOptions = {}): Promise<void> {
  const max = positive("max", options.max ?? 600);
  const perKey = options.perKey === false ? false : positive("perKey", options.perKey ?? max);
  const perIp = options.perIp === false ? false : positive("perIp", options.perIp ?? max);
  const windowMs = positive("windowMs", options.windowMs ?? 60_000);
  const isKeyed = (key: string) => key.startsWith("key:");
  // Not per route (`global: false`): one app-wide hook, so it runs before the authentication hook
  // and also covers unknown paths and static files.
  await app.register(fastifyRateLimit, {
    global: false,
    max: (_request, key) => (isKeyed(key) ? perKey || 0 : perIp || 0),
    timeWindow: windowMs,
    allowList: (_request, key) => (isKeyed(key) ? perKey === false : perIp === false),
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

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RuntimeError("VALIDATION_FAILED", `rateLimit.${name} must be a positive integer, got ${value}`);
  return value;
}
