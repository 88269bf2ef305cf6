import type { IncomingMessage } from "node:http";
import proxyAddr from "@fastify/proxy-addr";

/**
 * Which reverse proxies' `X-Forwarded-For` to believe, as fastify's
 * `trustProxy` takes it: `true` every hop, a number of hops, or
 * comma-separated addresses and CIDR ranges (`"127.0.0.1,10.0.0.0/8"`,
 * `"loopback"`); `false` or absent: none (the peer's own address counts).
 */
export type TrustProxy = boolean | number | string;

/** Decides whether the `hop`-th address from the peer (0: the peer itself) is a proxy to believe. */
export type TrustFunction = (address: string, hop: number) => boolean;

/**
 * The trust function of a `TrustProxy` setting, or `undefined` when no proxy
 * is trusted. One function serves HTTP requests (fastify's `request.ip`)
 * and socket handshakes (`clientAddress`), so both count a client behind a
 * proxy by the same address. Throws (proxy-addr's `TypeError`) for an
 * address or range that does not parse.
 */
export function trustFunction(trustProxy: TrustProxy | undefined): TrustFunction | undefined {
  if (trustProxy === undefined || trustProxy === false) return undefined;
  if (trustProxy === true) return () => true;
  if (typeof trustProxy === "number") return (_address, hop) => hop < trustProxy;
  return proxyAddr.compile(trustProxy.split(",").map((entry) => entry.trim()));
}

/**
 * The address a request comes from: the peer's, or, through trusted
 * proxies, the first address in `X-Forwarded-For` (read from the peer
 * backwards) that is not one of them.
 */
export function clientAddress(request: IncomingMessage, trust: TrustFunction | undefined): string {
  if (!trust) return request.socket.remoteAddress ?? "";
  return proxyAddr(request, trust);
}
