import type { Redis } from "ioredis";
import { z } from "zod";
import { validateInput } from "../profiles/validate-input.js";
import { keyPrefixSchema, nodeIdSchema, redisUrlSchema } from "./cluster-ids.js";
import { openRedis } from "./redis-connection.js";

/**
 * Where other nodes reach a node (`--advertise-url`): plain http(s), an
 * optional base path, no credentials, query or fragment.
 */
export const advertiseUrlSchema = z
  .string()
  .max(2_000)
  .refine((value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return (
      (url.protocol === "http:" || url.protocol === "https:") &&
      url.username === "" &&
      url.password === "" &&
      url.search === "" &&
      url.hash === ""
    );
  }, "an http:// or https:// URL without credentials, query or fragment");

const clusterNodeSchema = z.object({ nodeId: nodeIdSchema, advertiseUrl: advertiseUrlSchema });

/** A member of the cluster, as it announces itself. */
export interface ClusterNode {
  readonly nodeId: string;
  readonly advertiseUrl: string;
}

/** A member as the registry holds it. */
export interface RegisteredNode extends ClusterNode {
  /** On Redis's clock: the node counts as dead from then on unless it announces again. */
  readonly expiresAt: Date;
}

const optionsSchema = z.object({
  redisUrl: redisUrlSchema,
  keyPrefix: keyPrefixSchema.default("agent-runtime:"),
  ttlMs: z.number().int().min(100).max(3_600_000).default(15_000),
  connectionName: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/)
    .default("agent-runtime-node-registry"),
  onError: z.custom<(error: unknown) => void>((value) => typeof value === "function").optional(),
});

export interface NodeRegistryOptions {
  /** `redis://host:port/db` (or `rediss://`), every node of the cluster the same. */
  redisUrl: string;
  /** Prefix of the registry's keys (several clusters, or test runs, can share one Redis). @default "agent-runtime:" */
  keyPrefix?: string;
  /** How long one announcement keeps a node listed. @default 15_000 */
  ttlMs?: number;
  /** `CLIENT SETNAME` of the registry's connection. @default "agent-runtime-node-registry" */
  connectionName?: string;
  /** Connection errors (it reconnects by itself) and failed announcements of `keepAnnouncing`. @default ignore */
  onError?: (error: unknown) => void;
}

/** Milliseconds on Redis's clock, so that nodes need not agree on theirs. */
const redisNow =
  "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/** KEYS: expiries (sorted set), infos (hash). ARGV: node id, ttl ms, info JSON. Returns the expiry. */
const announceScript = `${redisNow}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return now + tonumber(ARGV[2])`;

/** KEYS: expiries, infos. Returns [id, info JSON, expiry, …] of the live nodes. */
const liveScript = `${redisNow}
local live = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
  out[#out + 1] = live[i + 1]
end
return out`;

/** KEYS: expiries, infos. Removes the nodes past their expiry; returns their ids. */
const forgetScript = `${redisNow}
local dead = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE')
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return dead`;

interface RegistryCommands {
  agentRuntimeAnnounceNode(...args: (string | number)[]): Promise<number>;
  agentRuntimeLiveNodes(...args: string[]): Promise<string[]>;
  agentRuntimeForgetNodes(...args: string[]): Promise<string[]>;
}

/** Stops what `keepAnnouncing` started. */
export interface Announcement {
  /** Stops announcing and withdraws the node, so others stop routing to it at once. */
  stop(): Promise<void>;
}

/**
 * Who is in the cluster, on Redis: each node announces `{nodeId,
 * advertiseUrl}` and is listed until its announcement's TTL passes (on
 * Redis's clock). A node that stops announcing (dead, partitioned, paused)
 * drops out of `liveNodes` by itself; `forgetDead` deletes such entries.
 * Keys: `PREFIX{nodes}:expiries` (sorted set, node id by expiry) and
 * `PREFIX{nodes}:info` (hash, node id to its JSON), one hash slot.
 */
export class NodeRegistry {
  private readonly options: z.output<typeof optionsSchema>;
  private readonly redis: Redis & RegistryCommands;
  private readonly keys: [string, string];

  private constructor(options: z.output<typeof optionsSchema>, redis: Redis) {
    this.options = options;
    this.redis = redis as Redis & RegistryCommands;
    this.keys = [`${options.keyPrefix}{nodes}:expiries`, `${options.keyPrefix}{nodes}:info`];
    this.redis.defineCommand("agentRuntimeAnnounceNode", { numberOfKeys: 2, lua: announceScript });
    this.redis.defineCommand("agentRuntimeLiveNodes", { numberOfKeys: 2, lua: liveScript });
    this.redis.defineCommand("agentRuntimeForgetNodes", { numberOfKeys: 2, lua: forgetScript });
  }

  /** Opens the registry's connection. Throws `VALIDATION_FAILED` on invalid options; rejects when Redis is unreachable. */
  static async connect(options: NodeRegistryOptions): Promise<NodeRegistry> {
    const valid = validateInput(optionsSchema, options, "node registry options");
    const redis = await openRedis(valid.redisUrl, {
      connectionName: valid.connectionName,
      onError: valid.onError ?? (() => {}),
    });
    return new NodeRegistry(valid, redis);
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /** Lists `node` (or updates its URL) for one TTL from now. Throws `VALIDATION_FAILED` on a malformed node. */
  async announce(node: ClusterNode): Promise<RegisteredNode> {
    const { nodeId, advertiseUrl } = validateInput(clusterNodeSchema, node, "cluster node");
    const expiresAt = await this.redis.agentRuntimeAnnounceNode(
      ...this.keys,
      nodeId,
      this.options.ttlMs,
      JSON.stringify({ nodeId, advertiseUrl }),
    );
    return { nodeId, advertiseUrl, expiresAt: new Date(Number(expiresAt)) };
  }

  /** Announces `node` now and then every `intervalMs` until `stop()`. Failed announcements go to `onError`. */
  keepAnnouncing(node: ClusterNode, intervalMs = Math.floor(this.options.ttlMs / 3)): Announcement {
    validateInput(clusterNodeSchema, node, "cluster node");
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let inFlight: Promise<void> = Promise.resolve();
    const beat = () => {
      inFlight = this.announce(node).then(
        () => undefined,
        (error: unknown) => this.options.onError?.(error),
      );
      void inFlight.then(() => {
        if (stopped) return;
        timer = setTimeout(beat, intervalMs);
        timer.unref();
      });
    };
    beat();
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await inFlight;
        await this.withdraw(node.nodeId);
      },
    };
  }

  /** Removes the node from the registry at once (drain, shutdown). True when it was listed. */
  async withdraw(nodeId: string): Promise<boolean> {
    validateInput(nodeIdSchema, nodeId, "node id");
    const [removed] = await Promise.all([
      this.redis.zrem(this.keys[0], nodeId),
      this.redis.hdel(this.keys[1], nodeId),
    ]);
    return removed > 0;
  }

  /** The nodes whose announcement has not expired, by node id. Entries that do not parse are left out. */
  async liveNodes(): Promise<RegisteredNode[]> {
    const flat = await this.redis.agentRuntimeLiveNodes(...this.keys);
    const nodes: RegisteredNode[] = [];
    for (let index = 0; index + 2 < flat.length; index += 3) {
      const node = parseNode(flat[index]!, flat[index + 1]!, flat[index + 2]!);
      if (node !== undefined) nodes.push(node);
    }
    return nodes.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  /** The node if it is live, else undefined (reads the whole list: clusters have tens of nodes, not thousands). */
  async lookup(nodeId: string): Promise<RegisteredNode | undefined> {
    validateInput(nodeIdSchema, nodeId, "node id");
    return (await this.liveNodes()).find((node) => node.nodeId === nodeId);
  }

  /** Deletes the entries of nodes past their TTL; resolves to their ids (their sessions' leases expire too). */
  async forgetDead(): Promise<string[]> {
    return this.redis.agentRuntimeForgetNodes(...this.keys);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function parseNode(nodeId: string, info: string, expiry: string): RegisteredNode | undefined {
  try {
    const parsed = clusterNodeSchema.safeParse(JSON.parse(info));
    if (!parsed.success || parsed.data.nodeId !== nodeId) return undefined;
    return { ...parsed.data, expiresAt: new Date(Number(expiry)) };
  } catch {
    return undefined;
  }
}
