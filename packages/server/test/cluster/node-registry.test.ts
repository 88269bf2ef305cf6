import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeRegistry, type NodeRegistryOptions } from "../../src/cluster/node-registry.js";
import { deleteKeys, redisUrl, testRedis, uniqueKeyPrefix } from "./redis-test-keys.js";

/** Short, so expiry tests wait about half a second; production uses the 15 s default. */
const TTL_MS = 500;

describe("node registry (Redis)", () => {
  const registries: NodeRegistry[] = [];
  const prefixes: string[] = [];
  let redis: Redis;

  /** Two registries on one prefix are two nodes of one cluster; each test gets its own cluster. */
  async function cluster(count: number, options: Partial<NodeRegistryOptions> = {}): Promise<NodeRegistry[]> {
    const keyPrefix = uniqueKeyPrefix("nodes");
    prefixes.push(keyPrefix);
    const made: NodeRegistry[] = [];
    for (let index = 0; index < count; index++) {
      made.push(await NodeRegistry.connect({ redisUrl, keyPrefix, ttlMs: TTL_MS, ...options }));
    }
    registries.push(...made);
    return made;
  }

  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    for (const registry of registries) await registry.close();
    for (const prefix of prefixes) {
      await deleteKeys(redis, prefix);
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
    }
    redis.disconnect();
  });

  it("lists the nodes every member announced, each with its advertise URL", async () => {
    const [one, two] = await cluster(2);
    await one!.announce({ nodeId: "node-1", advertiseUrl: "http://127.0.0.1:4001" });
    await two!.announce({ nodeId: "node-2", advertiseUrl: "http://127.0.0.1:4002/base" });
    for (const registry of [one!, two!]) {
      expect(
        (await registry.liveNodes()).map(({ nodeId, advertiseUrl }) => ({ nodeId, advertiseUrl })),
      ).toEqual([
        { nodeId: "node-1", advertiseUrl: "http://127.0.0.1:4001" },
        { nodeId: "node-2", advertiseUrl: "http://127.0.0.1:4002/base" },
      ]);
    }
    expect(await one!.lookup("node-2")).toMatchObject({ advertiseUrl: "http://127.0.0.1:4002/base" });
    expect(await one!.lookup("node-3")).toBeUndefined();
  });

  it("takes a re-announcement's new advertise URL", async () => {
    const [registry] = await cluster(1);
    await registry!.announce({ nodeId: "node-1", advertiseUrl: "http://127.0.0.1:4001" });
    await registry!.announce({ nodeId: "node-1", advertiseUrl: "http://127.0.0.1:5001" });
    expect((await registry!.liveNodes()).map((node) => node.advertiseUrl)).toEqual(["http://127.0.0.1:5001"]);
  });

  it("stops listing a node that missed its TTL, and forgets it", async () => {
    const [watcher, dying] = await cluster(2);
    await dying!.announce({ nodeId: "dying", advertiseUrl: "http://127.0.0.1:4001" });
    const heartbeat = watcher!.keepAnnouncing({ nodeId: "alive", advertiseUrl: "http://127.0.0.1:4002" });
    try {
      await sleep(TTL_MS * 2);
      expect((await watcher!.liveNodes()).map((node) => node.nodeId)).toEqual(["alive"]);
      expect(await watcher!.lookup("dying")).toBeUndefined();
      expect(await watcher!.forgetDead()).toEqual(["dying"]);
      expect(await watcher!.forgetDead()).toEqual([]);
    } finally {
      await heartbeat.stop();
    }
  });

  it("keeps a node listed past several TTLs while it announces, and drops it at once when it withdraws", async () => {
    const [node, watcher] = await cluster(2);
    const heartbeat = node!.keepAnnouncing({ nodeId: "steady", advertiseUrl: "http://127.0.0.1:4001" });
    const until = Date.now() + TTL_MS * 3;
    while (Date.now() < until) {
      await sleep(TTL_MS / 5);
      expect((await watcher!.liveNodes()).map((entry) => entry.nodeId)).toEqual(["steady"]);
    }
    await heartbeat.stop();
    expect(await watcher!.liveNodes()).toEqual([]);
    expect(await watcher!.forgetDead()).toEqual([]);
  });

  it("refuses a malformed node id or advertise URL", async () => {
    const [registry] = await cluster(1);
    for (const node of [
      { nodeId: "bad id", advertiseUrl: "http://127.0.0.1:4001" },
      { nodeId: "node-1", advertiseUrl: "ftp://127.0.0.1:4001" },
      { nodeId: "node-1", advertiseUrl: "http://user:secret@127.0.0.1:4001" },
      { nodeId: "node-1", advertiseUrl: "not a url" },
    ]) {
      await expect(registry!.announce(node)).rejects.toThrow();
    }
    expect(await registry!.liveNodes()).toEqual([]);
  });

  it("skips an entry another program wrote into the registry malformed", async () => {
    const [registry] = await cluster(1);
    await registry!.announce({ nodeId: "node-1", advertiseUrl: "http://127.0.0.1:4001" });
    const prefix = prefixes.at(-1)!;
    const infoKey = (await redis.keys(`${prefix}*`)).find((key) => key.endsWith(":info"))!;
    await redis.hset(infoKey, "node-1", "{not json");
    expect(await registry!.liveNodes()).toEqual([]);
    expect(await registry!.lookup(randomUUID())).toBeUndefined();
  });
});
