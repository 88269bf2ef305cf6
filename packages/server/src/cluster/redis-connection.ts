import type { Redis, RedisOptions } from "ioredis";

export interface OpenRedisOptions {
  /** Shown by `CLIENT LIST` (`CLIENT SETNAME`), so an operator can tell the runtime's connections apart. */
  connectionName: string;
  /** Errors the connection reports after it opened (it reconnects by itself). */
  onError: (error: unknown) => void;
  /** Further ioredis options (e.g. `autoResubscribe: false` for a subscriber). */
  extra?: RedisOptions;
}

/**
 * Opens one Redis connection and resolves once it is ready. `ioredis` is
 * loaded here, on first use, so a single node without Redis never loads it.
 * Rejects (and closes the connection) when the first attempt to connect
 * fails; after that, the connection reconnects by itself and reports
 * errors to `onError`.
 */
export async function openRedis(url: string, options: OpenRedisOptions): Promise<Redis> {
  const { Redis } = await import("ioredis");
  const client = new Redis(url, {
    connectionName: options.connectionName,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    ...options.extra,
  });
  client.on("error", options.onError);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}
