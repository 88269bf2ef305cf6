import type { FastifyServerOptions } from "fastify";
import { RuntimeError } from "../../errors.js";

/**
 * How long a client may take to send a request, and how long an idle
 * connection stays open. A client over `headersMs` or `requestMs` gets
 * `408 REQUEST_TIMEOUT` and its connection is closed (a slowloris client
 * dripping its headers, or a body sent too slowly, cannot hold a
 * connection). Neither bounds a response: event streams, socket.io and
 * downloads run as long as they need. Each value must be a positive
 * integer and `headersMs ≤ requestMs`, else construction throws
 * `VALIDATION_FAILED`.
 */
export interface HttpTimeoutOptions {
  /** Time from a request's first byte to the end of its headers. @default 20_000 */
  readonly headersMs?: number;
  /** Time from a request's first byte to the end of its body (a 100 MiB upload needs about 350 KB/s). @default 300_000 */
  readonly requestMs?: number;
  /**
   * How long a keep-alive connection may wait for its next request. Longer
   * than a load balancer's idle timeout in front of it (60 s on most), so
   * the balancer, not the server, closes idle connections. @default 72_000
   */
  readonly keepAliveMs?: number;
}

/** The fastify (and Node `http.Server`) options that apply `timeouts`; throws `VALIDATION_FAILED` (see `HttpTimeoutOptions`). */
export function httpServerTimeouts(timeouts: HttpTimeoutOptions = {}): Pick<
  FastifyServerOptions,
  "requestTimeout" | "keepAliveTimeout"
> & {
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  const headersMs = positive("headersMs", timeouts.headersMs ?? 20_000);
  const requestMs = positive("requestMs", timeouts.requestMs ?? 300_000);
  const keepAliveMs = positive("keepAliveMs", timeouts.keepAliveMs ?? 72_000);
  if (headersMs > requestMs)
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `The headers timeout (${headersMs} ms) must not be longer than the request timeout (${requestMs} ms)`,
    );
  return {
    requestTimeout: requestMs,
    keepAliveTimeout: keepAliveMs,
    http: {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      // Node checks both timeouts on this interval (30 s by default, which would let a 1 s limit
      // hold for 31 s); a quarter of the shorter one keeps the overshoot small at the cost of one
      // pass over the open connections.
      connectionsCheckingInterval: Math.min(5_000, Math.max(100, Math.floor(headersMs / 4))),
    },
  };
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `timeouts.${name} must be a positive integer (ms), got ${value}`,
    );
  return value;
}
