import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerProcess, startServerProcess } from "../support/server-process.js";
import { redisUrl } from "./redis-test-keys.js";

/** One `serve` process of a test cluster. */
export interface ClusterNodeProcess {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly process: ServerProcess;
  readonly url: string;
}

export interface ClusterNodeOptions {
  /** Its `--node-id`. */
  readonly name: string;
  /** The cluster's PostgreSQL database and Redis key prefix. */
  readonly databaseUrl: string;
  readonly keyPrefix: string;
  readonly modelUrl: string;
  /** Restart a node on its old port and data folder; absent: a free port, a new folder. */
  readonly port?: number;
  readonly dataDir?: string;
  /** `--lease-ttl` in seconds; absent: the default. */
  readonly leaseTtlSeconds?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** `agent-runtime serve` as a node of a cluster on the test Redis (see `startServerProcess`). */
export async function startClusterNode(options: ClusterNodeOptions): Promise<ClusterNodeProcess> {
  const { name } = options;
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `agent-runtime-cluster-${name}-`)));
  const process = await startServerProcess({
    dataDir,
    modelUrl: options.modelUrl,
    ...(options.env ? { env: options.env } : {}),
    args: [
      ...["--port", String(port), "--database", options.databaseUrl, "--redis-url", redisUrl],
      ...["--cluster-key-prefix", options.keyPrefix, "--node-id", name],
      ...(options.leaseTtlSeconds === undefined ? [] : ["--lease-ttl", String(options.leaseTtlSeconds)]),
    ],
  });
  return { name, port, dataDir, process, url: process.url };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
