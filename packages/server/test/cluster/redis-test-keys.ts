import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** The Redis the development and CI machines run. */
export const redisUrl = "redis://127.0.0.1:6379";

/** A key prefix no other test run uses. */
export function uniqueKeyPrefix(purpose: string): string {
  return `agent-runtime-test:${purpose}:${process.pid}:${randomBytes(4).toString("hex")}:`;
}

/** A plain connection for a test's own checks; `deleteKeys` closes it. */
export function testRedis(): Redis {
  return new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}

/** Closes the connection named `name` (as `CLIENT SETNAME` set it), as a network failure would. */
export async function killConnection(redis: Redis, name: string): Promise<void> {
  const list = await redis.client("LIST");
  const line = String(list)
    .split("\n")
    .find((entry) => entry.includes(` name=${name} `));
  const id = line?.match(/\bid=(\d+)/)?.[1];
  if (id === undefined) throw new Error(`no Redis connection named ${name}`);
  await redis.client("KILL", "ID", id);
}
