import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { pino } from "pino";
import type { Server } from "socket.io";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterEventBus } from "../../src/cluster/cluster-event-bus.js";
import {
  type AgentRuntime,
  createAgentRuntime,
  createLocalSandboxProvider,
  createMemoryPersistenceAdapter,
} from "../../src/index.js";
import { ApiKeyChecker } from "../../src/transport/api-keys.js";
import { TokenAuthority } from "../../src/transport/auth-tokens.js";
import { Credentials } from "../../src/transport/credentials.js";
import { attachSocketTransport } from "../../src/transport/socket/socket-transport.js";
import { until } from "../support/socket-client.js";
import { deleteKeys, redisUrl, testRedis, uniqueKeyPrefix } from "./redis-test-keys.js";
import { deltaEvent } from "./session-events.js";

/** A socket.io client recording the seqs it gets, alone or in `session:events` batches. */
interface Follower {
  readonly socket: Socket;
  readonly seqs: number[];
}

/**
 * Cluster mode's socket fan-out on one node: sockets following a session on
 * the shared event stream (real Redis, real socket.io clients) are sent each
 * live event encoded once for all of them, as a single node's rooms are.
 */
describe("cluster mode: fan-out of the shared stream on a node", () => {
  let dir: string;
  let runtime: AgentRuntime;
  let bus: ClusterEventBus;
  let http: HttpServer;
  let io: Server;
  let url: string;
  const keyPrefix = uniqueKeyPrefix("fanout");
  /** Encoded packets per event name and seq (a batch counts for each of its seqs). */
  const encodes = new Map<string, number>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-runtime-bus-fanout-"));
    // Sandboxes run as other users, which must be able to enter it.
    await chmod(dir, 0o711);
    runtime = createAgentRuntime({
      persistence: createMemoryPersistenceAdapter(),
      sandbox: createLocalSandboxProvider({ rootDir: join(dir, "sandboxes") }),
      agents: [{ id: "test", name: "Test agent", systemPrompt: "Test." }],
      model: { baseUrl: "http://127.0.0.1:9", apiKey: "unused" },
      logger: pino({ level: "warn" }),
      idleTimeoutMs: 0,
    });
    await runtime.start();
    bus = await ClusterEventBus.connect({ redisUrl, keyPrefix });
    http = createServer();
    io = attachSocketTransport(http, {
      runtime,
      credentials: new Credentials(new ApiKeyChecker([]), new TokenAuthority()),
      cluster: { bus },
    });
    const encode = io.encoder.encode.bind(io.encoder);
    io.encoder.encode = (packet) => {
      const data = Array.isArray(packet.data) ? packet.data : [];
      const [name, payload] = data as [string, { seq?: number; events?: SessionEvent[] }?];
      const seqs = payload?.events?.map((event) => event.seq) ?? [payload?.seq];
      for (const seq of seqs) {
        if (seq !== undefined) encodes.set(`${name} ${seq}`, (encodes.get(`${name} ${seq}`) ?? 0) + 1);
      }
      return encode(packet);
    };
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (io ? io.close(() => resolve()) : resolve()));
    await runtime?.shutdown();
    await bus?.close();
    const redis = testRedis();
    await deleteKeys(redis, keyPrefix).finally(() => redis.quit());
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const follow = async (sessionId: string, batchEvents: boolean): Promise<Follower> => {
    const socket = connect(url, { transports: ["websocket"], forceNew: true, auth: { batchEvents } });
    const seqs: number[] = [];
    socket.onAny((name: string, payload: { sessionId?: string; seq?: number; events?: SessionEvent[] }) => {
      if (payload.sessionId !== sessionId) return;
      if (name === "session:events") seqs.push(...(payload.events ?? []).map((event) => event.seq));
      else if (payload.seq !== undefined) seqs.push(payload.seq);
    });
    const ack = (await socket.timeout(10_000).emitWithAck("session:join", { sessionId })) as JoinAck;
    expect(ack, JSON.stringify(ack)).toMatchObject({ ok: true });
    return { socket, seqs };
  };

  it("encodes each live event once for every socket following the session", async () => {
    const session = await runtime.sessions.create({ agentProfileRef: "test" });
    const sessionId = session.id;
    const first = session.log.lastSeq + 1;
    const followers = [
      await follow(sessionId, true),
      await follow(sessionId, true),
      await follow(sessionId, false),
      await follow(sessionId, false),
    ];
    const count = 60;
    const seqs = Array.from({ length: count }, (_, i) => first + i);
    await bus.fence(sessionId, 1);
    // One at a time, then a burst (published back to back, so several reach the node in one turn of its loop).
    for (const seq of seqs.slice(0, count / 2)) await bus.publish(1, deltaEvent(sessionId, seq));
    await Promise.all(seqs.slice(count / 2).map((seq) => bus.publish(1, deltaEvent(sessionId, seq))));
    await until(() => followers.every((follower) => follower.seqs.length >= count), 20_000);
    for (const follower of followers) {
      expect(follower.seqs).toEqual(seqs);
      follower.socket.close();
    }
    for (const seq of seqs) {
      // One frame of the event for the sockets taking events alone, at most one batch holding it for the others.
      expect(encodes.get(`session:block:delta ${seq}`), `encodes of ${seq} alone`).toBe(1);
      expect(encodes.get(`session:events ${seq}`) ?? 0, `batches holding ${seq}`).toBeLessThanOrEqual(1);
    }
  });
});
