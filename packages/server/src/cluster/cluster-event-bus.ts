import type { SessionEvent } from "@agent-runtime/protocol";
import type { Redis } from "ioredis";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { validateInput } from "../profiles/validate-input.js";
import { ClusterError } from "./cluster-error.js";
import { keyPrefixSchema, redisUrlSchema, sessionIdSchema } from "./cluster-ids.js";
import { openRedis } from "./redis-connection.js";

const optionsSchema = z.object({
  redisUrl: redisUrlSchema,
  keyPrefix: keyPrefixSchema.default("agent-runtime:"),
  maxEventsPerSession: z.number().int().min(1).max(1_000_000).default(10_000),
  maxEventBytes: z
    .number()
    .int()
    .min(256)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  retentionSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(86_400),
  connectionName: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/)
    .default("agent-runtime-event-bus"),
  onError: z.custom<(error: unknown) => void>((value) => typeof value === "function").optional(),
});

export interface ClusterEventBusOptions {
  /** `redis://host:port/db` (or `rediss://`), every node of the cluster the same. */
  redisUrl: string;
  /** Prefix of every key and channel (several clusters, or test runs, can share one Redis). @default "agent-runtime:" */
  keyPrefix?: string;
  /**
   * Events each session's stream keeps for resume (older ones are trimmed as
   * new ones arrive, so a session's memory in Redis is at most this many
   * events of at most `maxEventBytes`). @default 10_000 (the event log's window)
   */
  maxEventsPerSession?: number;
  /** Largest event (its JSON) the stream takes; a larger one is refused with `EVENT_TOO_LARGE`. @default 1 MiB */
  maxEventBytes?: number;
  /** A session's stream is deleted after this long without a new event. @default 86_400 (one day) */
  retentionSeconds?: number;
  /** Names the bus's two connections `NAME-commands` and `NAME-subscriber` (`CLIENT LIST`). @default "agent-runtime-event-bus" */
  connectionName?: string;
  /** Connection and delivery failures the bus recovers from by itself (reconnecting, catching up). @default ignore */
  onError?: (error: unknown) => void;
}

export interface SubscribeOptions {
  /** Deliver the events after this seq (0: from the first). */
  afterSeq: number;
  /**
   * Each event once, in seq order, without gaps; called synchronously, never
   * concurrently. What it throws is ignored. The subscriptions of a session
   * may be handed the same event object: it must not be changed.
   */
  onEvent: (event: SessionEvent) => void;
  /**
   * The stream no longer holds the event after `afterSeq` (the last one
   * delivered): the subscription has ended, and the caller sends a snapshot
   * and subscribes again after the snapshot's seq.
   */
  onTruncated: (afterSeq: number) => void;
}

export interface EventSubscription {
  /** Resolves once events published from now on reach this subscription (the channel is subscribed). */
  readonly live: Promise<void>;
  /** Stops delivery at once; idempotent. */
  close(): void;
}

/**
 * Publishes an event if the publisher's token is not fenced off and `seq`
 * follows the stream's last one, then trims the stream, renews its expiry
 * and announces the event on the session's channel, all atomically.
 * KEYS: stream, meta. ARGV: token, seq, maxlen, retention seconds, payload, channel.
 */
const publishScript = `
local fence = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
if tonumber(ARGV[1]) < fence then return {'fenced', fence} end
local last = redis.call('HGET', KEYS[2], 'last')
if last and tonumber(ARGV[2]) ~= tonumber(last) + 1 then return {'seq', tonumber(last)} end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '0-' .. ARGV[2], 'e', ARGV[5])
redis.call('HSET', KEYS[2], 'fence', ARGV[1], 'last', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[6], ARGV[5])
return {'ok', tonumber(ARGV[2])}
`;

/**
 * Raises the session's fence to the token unless a newer one is set.
 * KEYS: meta. ARGV: token, retention seconds.
 */
const fenceScript = `
local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if tonumber(ARGV[1]) < fence then return {'fenced', fence} end
redis.call('HSET', KEYS[1], 'fence', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {'ok', tonumber(ARGV[1])}
`;

interface BusCommands {
  agentRuntimePublishEvent(...args: (string | number)[]): Promise<[string, number]>;
  agentRuntimeRaiseFence(...args: (string | number)[]): Promise<[string, number]>;
}

/** Events a subscription's pending queue holds before it drops them and re-reads the stream instead. */
const MAX_QUEUED_MESSAGES = 1_000;
/** Events read per stream query while catching up. */
const CATCH_UP_PAGE = 500;
/** Delay before a failed catch-up is tried again. */
const RETRY_MS = 1_000;

const tokenSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const seqSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * The cluster's shared, per-session event stream on Redis. The node owning a
 * session publishes each event (stamped with its contiguous `seq`) under its
 * lease's fencing token; a client on any node subscribes from a cursor and
 * receives every event after it, once, in order, whichever node published
 * it. Each session is a Redis stream (entry id `0-<seq>`, trimmed to
 * `maxEventsPerSession`) for replay, plus a pub/sub channel for live
 * delivery; a subscriber re-reads the stream whenever it sees a gap (a lost
 * message, a reconnect), so pub/sub's losses never reach a client.
 *
 * Keys (per session, one hash slot): `PREFIXsession:{ID}:events` (stream),
 * `PREFIXsession:{ID}:meta` (hash: `fence`, the newest token seen; `last`,
 * the last seq), channel `PREFIXsession:{ID}:live`.
 */
export class ClusterEventBus {
  private readonly options: z.output<typeof optionsSchema>;
  private readonly commands: Redis & BusCommands;
  private readonly subscriber: Redis;
  private readonly channels = new Map<string, { subscriptions: Set<Subscription>; live: Promise<void> }>();
  private closed = false;

  private constructor(options: z.output<typeof optionsSchema>, commands: Redis, subscriber: Redis) {
    this.options = options;
    this.commands = commands as Redis & BusCommands;
    this.subscriber = subscriber;
    this.commands.defineCommand("agentRuntimePublishEvent", { numberOfKeys: 2, lua: publishScript });
    this.commands.defineCommand("agentRuntimeRaiseFence", { numberOfKeys: 1, lua: fenceScript });
    subscriber.on("message", (channel: string, message: string) => {
      const subscriptions = this.channels.get(channel)?.subscriptions;
      if (!subscriptions?.size) return;
      // Parsed once for every subscription of the channel (they deliver the same object).
      const event = parseMessage(message) ?? MALFORMED;
      for (const subscription of subscriptions) subscription.push(event);
    });
    // The connection is ready when the bus is made: every later "ready" is a reconnect.
    subscriber.on("ready", () => void this.resubscribe());
  }

  /** Opens the bus's two connections (commands, pub/sub). Throws `VALIDATION_FAILED` on invalid options; rejects when Redis is unreachable. */
  static async connect(options: ClusterEventBusOptions): Promise<ClusterEventBus> {
    const valid = validateInput(optionsSchema, options, "cluster event bus options");
    const onError = valid.onError ?? (() => {});
    const commands = await openRedis(valid.redisUrl, {
      connectionName: `${valid.connectionName}-commands`,
      onError,
    });
    try {
      const subscriber = await openRedis(valid.redisUrl, {
        connectionName: `${valid.connectionName}-subscriber`,
        onError,
        // The bus resubscribes itself, so that it knows when to catch up.
        extra: { autoResubscribe: false, maxRetriesPerRequest: null },
      });
      return new ClusterEventBus(valid, commands, subscriber);
    } catch (error) {
      commands.disconnect();
      throw error;
    }
  }

  /**
   * Sets the session's fence to `token` (a node calls it right after it
   * claimed the session's lease, before it publishes), so that any
   * publisher with an older token is refused from now on. Throws
   * `LEASE_LOST` when a newer token is already set.
   */
  async fence(sessionId: string, token: number): Promise<void> {
    const keys = this.keys(sessionId);
    validateInput(tokenSchema, token, "fencing token");
    const [status, fence] = await this.commands.agentRuntimeRaiseFence(
      keys.meta,
      token,
      this.options.retentionSeconds,
    );
    if (status === "fenced") throw fencedOff(sessionId, token, fence);
  }

  /**
   * Appends `event` to its session's stream and announces it, under the
   * publisher's fencing `token`. Resolves once Redis holds it. Throws
   * `LEASE_LOST` when a newer token has fenced the session,
   * `EVENT_SEQ_CONFLICT` when `event.seq` is not the stream's last seq + 1
   * (any seq is taken for a session the bus holds nothing of), and
   * `EVENT_TOO_LARGE` over `maxEventBytes`; nothing is written then.
   */
  async publish(token: number, event: SessionEvent): Promise<void> {
    const keys = this.keys(event.sessionId);
    validateInput(tokenSchema, token, "fencing token");
    validateInput(seqSchema, event.seq, "event seq");
    const payload = JSON.stringify(event);
    const bytes = Buffer.byteLength(payload);
    if (bytes > this.options.maxEventBytes) {
      throw new ClusterError(
        "EVENT_TOO_LARGE",
        `event ${event.seq} of session ${event.sessionId} is ${bytes} bytes; the shared event stream takes at most ${this.options.maxEventBytes}`,
      );
    }
    let reply: [string, number];
    try {
      reply = await this.commands.agentRuntimePublishEvent(
        keys.stream,
        keys.meta,
        token,
        event.seq,
        this.options.maxEventsPerSession,
        this.options.retentionSeconds,
        payload,
        keys.channel,
      );
    } catch (error) {
      // XADD refuses an id at or below the stream's last: the stream outlived its `last` field.
      if (/equal or smaller/i.test(errorMessage(error))) throw seqConflict(event, undefined, error);
      throw error;
    }
    const [status, value] = reply;
    if (status === "fenced") throw fencedOff(event.sessionId, token, value);
    if (status === "seq") throw seqConflict(event, value);
  }

  /** Deletes what the bus holds of a deleted session (its stream and fence); its subscribers get nothing more. */
  async forget(sessionId: string): Promise<void> {
    const keys = this.keys(sessionId);
    await this.commands.del(keys.stream, keys.meta);
  }

  /** The seq of the session's last published event, or undefined when the bus holds nothing of the session. */
  async lastSeq(sessionId: string): Promise<number | undefined> {
    const last = await this.commands.hget(this.keys(sessionId).meta, "last");
    return last === null ? undefined : Number(last);
  }

  /**
   * The first `limit` events with `seq > afterSeq`, in order, or `null` when
   * the stream no longer holds the one right after `afterSeq` (trimmed, or
   * expired): the caller then sends a snapshot. Same contract as the event
   * log's `eventsAfter`.
   */
  async eventsAfter(
    sessionId: string,
    afterSeq: number,
    limit = this.options.maxEventsPerSession,
  ): Promise<SessionEvent[] | null> {
    const keys = this.keys(sessionId);
    validateInput(z.number().int().min(0), afterSeq, "event cursor");
    const count = Math.max(1, Math.min(Math.floor(limit), this.options.maxEventsPerSession));
    // One transaction, so `last` and the range describe the same moment.
    const results = await this.commands
      .multi()
      .xrange(keys.stream, `0-${afterSeq + 1}`, "+", "COUNT", count)
      .hget(keys.meta, "last")
      .exec();
    if (results === null) throw new Error("the Redis transaction reading the event stream was aborted");
    for (const [error] of results) if (error) throw error;
    const entries = results[0]![1] as [string, string[]][];
    const last = results[1]![1] as string | null;
    if (entries.length === 0) return last !== null && Number(last) > afterSeq ? null : [];
    const events = entries.map((entry) => parseEntry(sessionId, entry));
    return events[0]!.seq === afterSeq + 1 ? events : null;
  }

  /**
   * Delivers the session's events after `options.afterSeq`: first those the
   * stream holds, then live ones, each once and in order, to `onEvent`,
   * until `close()` or `onTruncated`. Survives reconnects by re-reading the
   * stream from the last delivered seq.
   */
  subscribe(sessionId: string, options: SubscribeOptions): EventSubscription {
    const keys = this.keys(sessionId);
    validateInput(z.number().int().min(0), options.afterSeq, "event cursor");
    if (this.closed) throw new Error("the cluster event bus is closed");
    const subscription = new Subscription(this, sessionId, options, () =>
      this.remove(keys.channel, subscription),
    );
    let entry = this.channels.get(keys.channel);
    if (entry === undefined) {
      const live = this.subscriber.subscribe(keys.channel).then(() => undefined);
      entry = { subscriptions: new Set(), live };
      this.channels.set(keys.channel, entry);
    }
    entry.subscriptions.add(subscription);
    const live = entry.live;
    // Reading the stream once the channel is subscribed leaves no moment in which an event could slip between the two.
    live.then(
      () => subscription.catchUp(),
      (error: unknown) => {
        this.reportError(error);
        subscription.catchUp();
      },
    );
    return { live, close: () => subscription.close() };
  }

  /** Ends every subscription and closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { subscriptions } of this.channels.values())
      for (const subscription of subscriptions) subscription.close();
    this.channels.clear();
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
  }

  /** @internal */
  reportError(error: unknown): void {
    this.options.onError?.(error);
  }

  private remove(channel: string, subscription: Subscription): void {
    const entry = this.channels.get(channel);
    if (entry === undefined || !entry.subscriptions.delete(subscription) || entry.subscriptions.size > 0)
      return;
    this.channels.delete(channel);
    if (!this.closed) this.subscriber.unsubscribe(channel).catch((error: unknown) => this.reportError(error));
  }

  /** After a reconnect: subscribes every channel again, then lets each subscription re-read what it missed. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.channels.keys()];
    try {
      if (channels.length > 0) await this.subscriber.subscribe(...channels);
    } catch (error) {
      this.reportError(error);
    }
    for (const { subscriptions } of this.channels.values()) {
      for (const subscription of subscriptions) subscription.catchUp();
    }
  }

  private keys(sessionId: string) {
    validateInput(sessionIdSchema, sessionId, "session id");
    const base = `${this.options.keyPrefix}session:{${sessionId}}`;
    return { stream: `${base}:events`, meta: `${base}:meta`, channel: `${base}:live` };
  }
}

/** A message of a channel that is no event: its subscriptions re-read the stream. */
const MALFORMED = Symbol("malformed message");

/**
 * One subscriber's delivery state: live messages queue up (bounded) and are
 * delivered while they follow the last delivered seq; anything else (a gap,
 * a queue overflow, a reconnect) re-reads the stream from there.
 */
class Subscription {
  private delivered: number;
  private readonly queue: (SessionEvent | typeof MALFORMED)[] = [];
  private behind = false;
  private draining = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: ClusterEventBus,
    private readonly sessionId: string,
    private readonly options: SubscribeOptions,
    private readonly onClose: () => void,
  ) {
    this.delivered = options.afterSeq;
  }

  push(event: SessionEvent | typeof MALFORMED): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED_MESSAGES) {
      this.queue.length = 0;
      this.behind = true;
    } else {
      this.queue.push(event);
    }
    void this.drain();
  }

  catchUp(): void {
    if (this.closed) return;
    this.behind = true;
    void this.drain();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    clearTimeout(this.retry);
    this.onClose();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.closed && (this.behind || this.queue.length > 0)) {
        if (this.behind) {
          this.behind = false;
          await this.readStream();
          continue;
        }
        const event = this.queue.shift()!;
        if (event === MALFORMED || event.sessionId !== this.sessionId) {
          this.behind = true;
        } else if (event.seq === this.delivered + 1) {
          this.deliver(event);
        } else if (event.seq > this.delivered + 1) {
          this.behind = true;
        }
      }
    } catch (error) {
      this.bus.reportError(error);
      this.behind = true;
      this.retry = setTimeout(() => void this.drain(), RETRY_MS);
      this.retry.unref();
    } finally {
      this.draining = false;
    }
  }

  /** Delivers what the stream holds after the last delivered seq; ends the subscription when that was trimmed. */
  private async readStream(): Promise<void> {
    for (;;) {
      const events = await this.bus.eventsAfter(this.sessionId, this.delivered, CATCH_UP_PAGE);
      if (this.closed) return;
      if (events === null) {
        const afterSeq = this.delivered;
        this.close();
        this.options.onTruncated(afterSeq);
        return;
      }
      for (const event of events) if (event.seq === this.delivered + 1) this.deliver(event);
      if (events.length < CATCH_UP_PAGE) return;
    }
  }

  private deliver(event: SessionEvent): void {
    this.delivered = event.seq;
    try {
      this.options.onEvent(event);
    } catch {
      // A failing listener must not stop delivery to itself or others.
    }
  }
}

function parseMessage(message: string): SessionEvent | undefined {
  try {
    const event = JSON.parse(message) as SessionEvent;
    return seqSchema.safeParse(event?.seq).success && typeof event.sessionId === "string" ? event : undefined;
  } catch {
    return undefined;
  }
}

function parseEntry(sessionId: string, [id, fields]: [string, string[]]): SessionEvent {
  const payload = fields[fields.indexOf("e") + 1];
  const event = payload === undefined ? undefined : parseMessage(payload);
  if (event === undefined || event.sessionId !== sessionId || `0-${event.seq}` !== id) {
    throw new Error(`the shared event stream of session ${sessionId} holds a malformed entry ${id}`);
  }
  return event;
}

function fencedOff(sessionId: string, token: number, fence: number): ClusterError {
  return new ClusterError(
    "LEASE_LOST",
    `session ${sessionId}'s events are fenced by token ${fence}; token ${token} may no longer publish`,
    { details: { sessionId, token, currentToken: fence } },
  );
}

function seqConflict(event: SessionEvent, last: number | undefined, cause?: unknown): ClusterError {
  return new ClusterError(
    "EVENT_SEQ_CONFLICT",
    `event ${event.seq} of session ${event.sessionId} does not follow the shared stream's last event${last === undefined ? "" : ` (${last})`}`,
    {
      details: { sessionId: event.sessionId, seq: event.seq, lastSeq: last },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}
