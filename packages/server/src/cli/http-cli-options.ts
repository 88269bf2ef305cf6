import { Option } from "commander";
import type { AgentServerOptions } from "../server.js";
import { numeric } from "./numeric-option.js";

/*
 * The REST transport's limits as `serve` options and environment variables:
 * rate limits, the trusted proxies, and request timeouts. Values are checked
 * by the server (`createAgentServer` throws VALIDATION_FAILED naming the
 * setting); here they are only parsed.
 */

/** The parsed values of `httpCliOptions()` (commander's camel-cased names). */
export interface HttpCliValues {
  readonly rateLimitPerKey?: number;
  readonly rateLimitPerIp?: number;
  readonly rateLimitWindow?: number;
  readonly trustProxy?: string;
  readonly httpHeadersTimeout?: number;
  readonly httpRequestTimeout?: number;
  readonly httpKeepAliveTimeout?: number;
}

/** The options, each with its environment variable. */
export function httpCliOptions(): Option[] {
  return [
    new Option(
      "--rate-limit-per-key <count>",
      "REST requests each API key or token may make per window; 0 lifts the limit (default: 600)",
    )
      .env("AGENT_RUNTIME_RATE_LIMIT_PER_KEY")
      .argParser(numeric),
    new Option(
      "--rate-limit-per-ip <count>",
      "REST requests without a valid key each client address may make per window; 0 lifts the limit (default: 600)",
    )
      .env("AGENT_RUNTIME_RATE_LIMIT_PER_IP")
      .argParser(numeric),
    new Option("--rate-limit-window <seconds>", "length of the rate limits' window (default: 60)")
      .env("AGENT_RUNTIME_RATE_LIMIT_WINDOW")
      .argParser(numeric),
    new Option(
      "--trust-proxy <proxies>",
      'believe X-Forwarded-For from these reverse proxies: "true" (any), a hop count, or comma-separated addresses and CIDRs ("loopback", "10.0.0.0/8"); default: ignore it',
    ).env("AGENT_RUNTIME_TRUST_PROXY"),
    new Option(
      "--http-headers-timeout <seconds>",
      "a request whose headers take longer gets 408 and its connection is closed (default: 20)",
    )
      .env("AGENT_RUNTIME_HTTP_HEADERS_TIMEOUT")
      .argParser(numeric),
    new Option(
      "--http-request-timeout <seconds>",
      "a request whose headers and body take longer gets 408 and its connection is closed (default: 300)",
    )
      .env("AGENT_RUNTIME_HTTP_REQUEST_TIMEOUT")
      .argParser(numeric),
    new Option(
      "--http-keep-alive-timeout <seconds>",
      "an idle keep-alive connection is closed after this long (default: 72)",
    )
      .env("AGENT_RUNTIME_HTTP_KEEP_ALIVE_TIMEOUT")
      .argParser(numeric),
  ];
}

/** The server options `values` set (absent ones keep the server's defaults). */
export function httpServerOptions(
  values: HttpCliValues,
): Pick<AgentServerOptions, "rateLimit" | "trustProxy" | "httpTimeouts"> {
  const limit = (count: number | undefined): number | false | undefined => (count === 0 ? false : count);
  const ms = (seconds: number | undefined) =>
    seconds === undefined ? undefined : Math.round(seconds * 1000);
  const rateLimit = withoutUndefined({
    perKey: limit(values.rateLimitPerKey),
    perIp: limit(values.rateLimitPerIp),
    windowMs: ms(values.rateLimitWindow),
  });
  const httpTimeouts = withoutUndefined({
    headersMs: ms(values.httpHeadersTimeout),
    requestMs: ms(values.httpRequestTimeout),
    keepAliveMs: ms(values.httpKeepAliveTimeout),
  });
  return {
    ...(rateLimit.perKey === false && rateLimit.perIp === false ? { rateLimit: false } : { rateLimit }),
    ...(values.trustProxy === undefined ? {} : { trustProxy: parseTrustProxy(values.trustProxy) }),
    httpTimeouts,
  };
}

/**
 * `--trust-proxy` as fastify's `trustProxy`: `true`/`false`, a hop count,
 * or the comma-separated addresses and CIDRs as given (an invalid one is
 * refused when the server is built, see `trustFunction`).
 */
function parseTrustProxy(text: string): boolean | number | string {
  const value = text.trim();
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

function withoutUndefined<T extends Record<string, unknown>>(
  record: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
