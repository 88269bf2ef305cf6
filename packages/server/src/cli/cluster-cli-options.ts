import { hostname } from "node:os";
import { Option } from "commander";
import { numeric } from "./numeric-option.js";

/** What `serve` needs to run as a node of a cluster (see `Cluster`). */
export interface ClusterServeOptions {
  readonly redisUrl: string;
  readonly nodeId?: string;
  readonly advertiseUrl?: string;
  readonly keyPrefix?: string;
  readonly leaseTtlSeconds?: number;
}

/** `serve`'s cluster options, each with its environment variable. */
export function clusterCliOptions(): Option[] {
  return [
    new Option(
      "--redis-url <url>",
      "Redis shared by the nodes of a cluster (with --database postgres://…); without it, one node",
    ).env("REDIS_URL"),
    new Option("--node-id <id>", "this node's id, unique in the cluster (default: host name and port)").env(
      "AGENT_RUNTIME_NODE_ID",
    ),
    new Option(
      "--advertise-url <url>",
      "where the other nodes reach this node's API (default: http://<host>:<port>)",
    ).env("AGENT_RUNTIME_ADVERTISE_URL"),
    new Option("--cluster-key-prefix <prefix>", "prefix of the cluster's Redis keys (default: agent-runtime:)").env(
      "AGENT_RUNTIME_CLUSTER_KEY_PREFIX",
    ),
    new Option(
      "--lease-ttl <seconds>",
      "how long a session's lease lasts unrenewed: the longest a dead node's sessions wait (default: 15)",
    )
      .env("AGENT_RUNTIME_LEASE_TTL")
      .argParser(numeric),
  ];
}

/** The parsed options' cluster part, or undefined without `--redis-url`. */
export function clusterServeOptions(options: Record<string, unknown>): ClusterServeOptions | undefined {
  if (typeof options.redisUrl !== "string" || options.redisUrl === "") return undefined;
  return {
    redisUrl: options.redisUrl,
    ...(typeof options.nodeId === "string" ? { nodeId: options.nodeId } : {}),
    ...(typeof options.advertiseUrl === "string" ? { advertiseUrl: options.advertiseUrl } : {}),
    ...(typeof options.clusterKeyPrefix === "string" ? { keyPrefix: options.clusterKeyPrefix } : {}),
    ...(typeof options.leaseTtl === "number" ? { leaseTtlSeconds: options.leaseTtl } : {}),
  };
}

/** A node id from the host name and port: stable across restarts of the node, unique per port. */
export function defaultNodeId(port: number): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 50) || "node";
  return `${host}-${port}`;
}

/**
 * Where other nodes reach a node listening on `host:port` (a wildcard
 * address: the machine's host name). An origin: forwarded requests keep
 * their paths, the `--base-path` included.
 */
export function defaultAdvertiseUrl(host: string, port: number): string {
  const wildcard = host === "0.0.0.0" || host === "::" || host === "";
  const shown = wildcard ? hostname() : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}
