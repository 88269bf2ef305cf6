import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { SessionEvent } from "@agent-runtime/protocol";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ClusterError } from "../../src/cluster/cluster-error.js";
import {
  ClusterEventBus,
  type ClusterEventBusOptions,
  type EventSubscription,
} from "../../src/cluster/cluster-event-bus.js";
import { deleteKeys, killConnection, redisUrl, testRedis, uniqueKeyPrefix } from "./redis-test-keys.js";
import { deltaEvent } from "./session-events.js";

const run = promisify(execFile);
const PUBLISHER = fileURLToPath(new URL("./event-bus-publisher-process.ts", import.meta.url));

/** Receives a subscription's events; `until` resolves once `count` have arrived. */
class Received {
  readonly events: SessionEvent[] = [];
  truncatedAfter: number | undefined;
  /** The subscription's `live`. */
  live: Promise<void> = Promise.resolve();
  private waiters: { count: number; resolve: () => void }[] = [];

  readonly onEvent = (event: SessionEvent) => {
    this.events.push(event);
    this.wake();
  };
  readonly onTruncated = (afterSeq: number) => {
    this.truncatedAfter = afterSeq;
    this.wake();
  };

  get seqs(): number[] {
    return this.events.map((event) => event.seq);
  }

  until(count: number, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`got ${this.events.length} events, waited for ${count}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.wake();
    });
  }

  private wake() {
    for (const waiter of this.waiters) {
      if (this.events.length >= waiter.count || this.truncatedAfter !== undefined) waiter.resolve();
    }
    this.waiters = this.waiters.filter(
      (waiter) => this.events.length < waiter.count && this.truncatedAfter === undefined,
    );
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe("cluster event bus (Redis)", () => {
  const keyPrefix = uniqueKeyPrefix("bus");
  const buses: ClusterEventBus[] = [];
  const subscriptions: EventSubscription[] = [];
  let redis: Redis;

  async function bus(options: Partial<ClusterEventBusOptions> = {}): Promise<ClusterEventBus> {
    const created = await ClusterEventBus.connect({ redisUrl, keyPrefix, ...options });
    buses.push(created);
    return created;
  }

  function subscribe(on: ClusterEventBus, sessionId: string, afterSeq: number): Received {
    const received = new Received();
    const subscription = on.subscribe(sessionId, {
      afterSeq,
      onEvent: received.onEvent,
      onTruncated: received.onTruncated,
    });
    subscriptions.push(subscription);
    received.live = subscription.live;
    return received;
  }

  async function publishRange(
    on: ClusterEventBus,
    token: number,
    sessionId: string,
    from: number,
    to: number,
  ) {
    for (const seq of range(from, to)) await on.publish(token, deltaEvent(sessionId, seq));
  }

  beforeAll(() => {
    redis = testRedis();
  });
  afterEach(() => {
    for (const subscription of subscriptions.splice(0)) subscription.close();
  });
  afterAll(async () => {
    for (const created of buses) await created.close();
    await deleteKeys(redis, keyPrefix);
    expect(await redis.keys(`${keyPrefix}*`)).toEqual([]);
    redis.disconnect();
  });

  it("delivers what another process publishes, in order, with contiguous seq", async () => {
    const sessionId = randomUUID();
    const receiver = await bus();
    const received = subscribe(receiver, sessionId, 0);
    await received.live;
    const env = {
      ...process.env,
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      SESSION: sessionId,
      COUNT: "300",
      TOKEN: "1",
    };
    const child = await run(
      process.execPath,
      ["--import", "tsx", "--conditions=@agent-runtime/source", PUBLISHER],
      { env },
    );
    expect(child.stdout.trim()).toBe("published 300");
    await received.until(300);
    expect(received.seqs).toEqual(range(1, 300));
    const deltas = new Set(received.events.map((event) => (event as { delta: string }).delta));
    expect(deltas.size).toBe(1);
    const [delta] = deltas;
    expect(delta).toMatch(/^from process \d+$/);
    expect(delta).not.toBe(`from process ${process.pid}`);
    expect(received.events).toEqual(range(1, 300).map((seq) => deltaEvent(sessionId, seq, delta)));
  });

  it("lets a node continue the stream another node started, and a client resume by cursor on a third", async () => {
    const sessionId = randomUUID();
    const [nodeA, nodeB, nodeC] = [await bus(), await bus(), await bus()];
    const live = subscribe(nodeB, sessionId, 0);
    await nodeA.fence(sessionId, 1);
    await publishRange(nodeA, 1, sessionId, 1, 100);
    await live.until(100);

    // Node A stops owning the session; node B takes it over under a newer token and continues from the stream's last seq.
    await nodeB.fence(sessionId, 2);
    expect(await nodeB.lastSeq(sessionId)).toBe(100);
    await publishRange(nodeB, 2, sessionId, 101, 120);

    const resumed = subscribe(nodeC, sessionId, 50);
    await resumed.until(70);
    expect(resumed.seqs).toEqual(range(51, 120));
    await publishRange(nodeB, 2, sessionId, 121, 130);
    await resumed.until(80);
    await live.until(130);
    expect(resumed.seqs).toEqual(range(51, 130));
    expect(live.seqs).toEqual(range(1, 130));
    expect(live.events.slice(50)).toEqual(resumed.events);

    expect(await nodeC.eventsAfter(sessionId, 125)).toEqual(
      range(126, 130).map((seq) => deltaEvent(sessionId, seq)),
    );
    expect(await nodeC.eventsAfter(sessionId, 10, 3)).toEqual(
      range(11, 13).map((seq) => deltaEvent(sessionId, seq)),
    );
    expect(await nodeC.eventsAfter(sessionId, 130)).toEqual([]);
  });

  it("refuses events from a node whose token was fenced off", async () => {
    const sessionId = randomUUID();
    const [oldOwner, newOwner] = [await bus(), await bus()];
    await oldOwner.fence(sessionId, 7);
    await publishRange(oldOwner, 7, sessionId, 1, 3);
    await newOwner.fence(sessionId, 8);

    await expect(oldOwner.publish(7, deltaEvent(sessionId, 4, "stale"))).rejects.toSatisfy((error) =>
      ClusterError.is(error, "LEASE_LOST"),
    );
    await expect(oldOwner.fence(sessionId, 7)).rejects.toSatisfy((error) =>
      ClusterError.is(error, "LEASE_LOST"),
    );
    await newOwner.publish(8, deltaEvent(sessionId, 4, "fresh"));
    expect(await newOwner.eventsAfter(sessionId, 3)).toEqual([deltaEvent(sessionId, 4, "fresh")]);
  });

  it("refuses a gap or a duplicate seq, leaving the stream as it was", async () => {
    const sessionId = randomUUID();
    const node = await bus();
    await publishRange(node, 1, sessionId, 1, 5);
    for (const seq of [5, 3, 7]) {
      await expect(node.publish(1, deltaEvent(sessionId, seq))).rejects.toSatisfy((error) =>
        ClusterError.is(error, "EVENT_SEQ_CONFLICT"),
      );
    }
    expect((await node.eventsAfter(sessionId, 0))?.map((event) => event.seq)).toEqual(range(1, 5));
  });

  it("keeps at most maxEventsPerSession events and tells a subscriber that asks for older ones", async () => {
    const sessionId = randomUUID();
    const node = await bus({ maxEventsPerSession: 50 });
    await publishRange(node, 1, sessionId, 1, 500);
    const keys = await redis.keys(`${keyPrefix}*${sessionId}*`);
    const streams = [];
    for (const key of keys) if ((await redis.type(key)) === "stream") streams.push(key);
    expect(streams).toHaveLength(1);
    expect(await redis.xlen(streams[0]!)).toBe(50);

    expect(await node.eventsAfter(sessionId, 0)).toBeNull();
    expect(await node.eventsAfter(sessionId, 449)).toBeNull();
    expect((await node.eventsAfter(sessionId, 450))?.map((event) => event.seq)).toEqual(range(451, 500));

    const tooOld = subscribe(node, sessionId, 10);
    await tooOld.until(1);
    expect(tooOld.truncatedAfter).toBe(10);
    expect(tooOld.events).toEqual([]);
    const recent = subscribe(node, sessionId, 480);
    await recent.until(20);
    expect(recent.seqs).toEqual(range(481, 500));
    expect(recent.truncatedAfter).toBeUndefined();
  });

  it("refuses an event over maxEventBytes", async () => {
    const sessionId = randomUUID();
    const node = await bus({ maxEventBytes: 1024 });
    await expect(node.publish(1, deltaEvent(sessionId, 1, "x".repeat(2_000)))).rejects.toSatisfy((error) =>
      ClusterError.is(error, "EVENT_TOO_LARGE"),
    );
    expect(await node.lastSeq(sessionId)).toBeUndefined();
  });

  it("refuses an event whose seq is not a positive integer, or whose session id is malformed", async () => {
    const node = await bus();
    await expect(node.publish(1, deltaEvent(randomUUID(), 0))).rejects.toThrow();
    await expect(node.publish(1, deltaEvent("bad id {with braces}", 1))).rejects.toThrow();
  });

  it("catches a subscriber up on what was published while its connection was down", async () => {
    const sessionId = randomUUID();
    const connectionName = `bus-test-${randomUUID()}`;
    const [publisher, receiver] = [await bus(), await bus({ connectionName })];
    const received = subscribe(receiver, sessionId, 0);
    await received.live;
    await publishRange(publisher, 1, sessionId, 1, 10);
    await received.until(10);

    await killConnection(redis, `${connectionName}-subscriber`);
    await publishRange(publisher, 1, sessionId, 11, 40);
    await received.until(40);
    expect(received.seqs).toEqual(range(1, 40));
  });

  it("stops delivering once a subscription is closed", async () => {
    const sessionId = randomUUID();
    const node = await bus();
    const received = new Received();
    const subscription = node.subscribe(sessionId, {
      afterSeq: 0,
      onEvent: received.onEvent,
      onTruncated: received.onTruncated,
    });
    await subscription.live;
    await publishRange(node, 1, sessionId, 1, 3);
    await received.until(3);
    subscription.close();
    await publishRange(node, 1, sessionId, 4, 6);
    const control = subscribe(node, sessionId, 3);
    await control.until(3);
    expect(received.seqs).toEqual([1, 2, 3]);
  });
});
