import { readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { type ChunkEvent, type MockModel, type ScriptInput, startMockModel } from "@agent-runtime/mock-model";
import type { JoinAck, SessionEvent } from "@agent-runtime/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomFor } from "../../src/transport/socket/socket-transport.js";
import { BlockReplica } from "../support/block-replica.js";
import { percentile } from "../support/percentile.js";
import { restClient } from "../support/rest.js";
import { connectSocket as connect, tcpOf, until } from "../support/socket-client.js";
import { SocketRecorder } from "../support/socket-recorder.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Socket robustness (RELIABILITY 21) with the real agent: a storm of
 * connect/join/disconnect cycles leaves no file descriptor, listener, socket
 * or room behind; a client that stops reading during a long fast stream
 * costs the server a bounded queue, is dropped past the bound, does not slow
 * a reading client, and resumes later with `afterSeq`.
 */
const CHUNK_SIZE = 4000;
const CHUNKS = 1500;
/** 6 MB of text in chunks that are each unique, so a delta can be traced back to the chunk the model wrote. */
const FLOOD_TEXT = Array.from({ length: CHUNKS }, (_, i) =>
  `<chunk ${String(i).padStart(5, "0")}>`.padEnd(CHUNK_SIZE, "x"),
).join("");
const BUFFER_BOUND = 512 * 1024;

const script: ScriptInput = {
  rules: [
    { name: "hello", match: { prompt: "Say hello" }, reply: "Hello there." },
    {
      name: "flood",
      match: { prompt: "Stream a flood" },
      reply: { steps: [FLOOD_TEXT], chunkSize: CHUNK_SIZE, chunkDelayMs: 2 },
    },
  ],
};

const now = () => performance.timeOrigin + performance.now();

describe("socket stress", () => {
  let server: TestServer;
  let mock: MockModel;
  let rest: ReturnType<typeof restClient>;
  const chunkTimes = new Map<string, number>();

  beforeAll(async () => {
    mock = await startMockModel({
      script,
      onChunk: (chunk: ChunkEvent) => {
        if (chunk.text.startsWith("<chunk ")) chunkTimes.set(chunk.text, chunk.timestamp);
      },
    });
    server = await startTestServer({ mock, server: { maxSocketBufferedBytes: BUFFER_BOUND } });
    rest = restClient(server.url);
  });
  afterAll(async () => {
    await server?.dispose();
    await mock?.close();
  });

  it("100 connect/join/disconnect cycles leave no descriptor, listener, socket or room behind", async () => {
    const { io: ioServer, runtime } = server.server;
    const namespace = ioServer.of("/");
    const sessionId = await rest.createSession();
    const recorder = new SocketRecorder(server.url);
    await recorder.join(sessionId, 0);
    await rest.send(sessionId, "Say hello");
    await recorder.waitForTurns(1, 60_000);
    const lastSeq = (await rest.session(sessionId)).lastSeq;
    recorder.close();
    // The recorder's engine.io connection closes after its socket: the baseline is taken once both are gone.
    await until(() => namespace.sockets.size === 0 && ioServer.engine.clientsCount === 0);

    // Subscriptions made from now on (the transport's was made at startup).
    let globalListeners = 0;
    const subscribeAll = runtime.sessions.subscribeAll.bind(runtime.sessions);
    runtime.sessions.subscribeAll = (listener) => {
      globalListeners += 1;
      const unsubscribe = subscribeAll(listener);
      return () => {
        globalListeners -= 1;
        return unsubscribe();
      };
    };
    const session = await runtime.sessions.get(sessionId);
    const measure = () => ({
      fds: readdirSync("/proc/self/fd").length,
      sockets: namespace.sockets.size,
      engineClients: ioServer.engine.clientsCount,
      rooms: namespace.adapter.rooms.size,
      sessionRoom: namespace.adapter.rooms.get(roomFor(sessionId))?.size ?? 0,
      logListeners: session.log.listenerCount,
      globalListeners,
      httpListeners: ["upgrade", "request", "close"].map((name) =>
        server.server.app.server.listenerCount(name),
      ),
    });
    const before = measure();

    let replayed = 0;
    const cycle = async (i: number) => {
      const socket = await connect(server.url);
      let received = 0;
      socket.onAny(() => {
        received += 1;
      });
      const ack = (await socket
        .timeout(10_000)
        .emitWithAck("session:join", { sessionId, ...(i % 2 === 0 ? { afterSeq: 0 } : {}) })) as JoinAck;
      expect(ack).toMatchObject({ ok: true, lastSeq, replayed: i % 2 === 0 ? lastSeq : 0 });
      if (i % 2 === 0) {
        await until(() => received >= lastSeq);
        replayed += received;
      }
      // Three ways out: a polite leave, a close, and a dropped TCP connection.
      if (i % 3 === 0) {
        await socket.timeout(10_000).emitWithAck("session:leave", { sessionId });
        socket.close();
      } else if (i % 3 === 1) {
        socket.close();
      } else {
        tcpOf(socket).destroy();
        socket.close();
      }
    };
    const started = performance.now();
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => cycle(wave * 10 + j)));
    }
    const stormMs = performance.now() - started;
    await until(() => namespace.sockets.size === before.sockets && ioServer.engine.clientsCount === 0);
    // Closed descriptors are released by the event loop shortly after the close events.
    await until(() => readdirSync("/proc/self/fd").length <= before.fds + 3, 5_000).catch(() => undefined);
    const after = measure();
    console.info("reconnect storm", { stormMs: Math.round(stormMs), replayed, before, after });

    expect(replayed).toBe(50 * lastSeq);
    expect(after.fds).toBeLessThanOrEqual(before.fds + 3);
    expect(after).toEqual({ ...before, fds: after.fds });
    expect(after.sessionRoom).toBe(0);
    expect(after.logListeners).toBe(1);
    runtime.sessions.subscribeAll = subscribeAll;
  });

  /** A client that records when each flood delta arrives, to trace it to the model's write. */
  async function floodReader(sessionId: string) {
    const reader = new SocketRecorder(server.url);
    await reader.join(sessionId, 0);
    const arrivals = new Map<string, number>();
    reader.socket.onAny((_name: string, payload: SessionEvent) => {
      if (payload.type === "session:block:delta") arrivals.set(payload.delta, now());
    });
    /** Milliseconds from the model writing each chunk to the reader receiving it. */
    const lags = () =>
      [...arrivals].flatMap(([text, at]) => {
        const written = chunkTimes.get(text);
        return written === undefined ? [] : [at - written];
      });
    return { reader, lags };
  }

  it("drops a stalled client past its buffer bound without slowing a reading one; it resumes later", async () => {
    const namespace = server.server.io.of("/");

    // Baseline: the same flood with only a reading client.
    const aloneId = await rest.createSession();
    const alone = await floodReader(aloneId);
    await rest.send(aloneId, "Stream a flood");
    await alone.reader.waitForTurns(1, 60_000);
    const baseline = alone.lags();
    alone.reader.close();

    const sessionId = await rest.createSession();
    const { reader, lags } = await floodReader(sessionId);
    const stalled = await connect(server.url);
    const stalledEvents: SessionEvent[] = [];
    let stalledDisconnect: string | undefined;
    stalled.on("disconnect", (reason) => {
      stalledDisconnect = reason;
    });
    const joined = (await stalled
      .timeout(10_000)
      .emitWithAck("session:join", { sessionId, afterSeq: 0 })) as JoinAck;
    expect(joined.ok).toBe(true);
    const serverSide = namespace.sockets.get(stalled.id ?? "");
    if (!serverSide) throw new Error("no server socket for the stalled client");
    let serverReason: string | undefined;
    serverSide.on("disconnect", (reason) => {
      serverReason = reason;
    });
    const conn = serverSide.conn as unknown as { writeBuffer: Array<{ data?: unknown }> };
    const queuedBytes = () =>
      conn.writeBuffer.reduce(
        (sum, packet) => sum + (typeof packet.data === "string" ? packet.data.length : 0),
        0,
      );
    // After 20 deltas the client reads nothing more: the kernel buffers fill, then the server's queue grows.
    let deltasSeen = 0;
    stalled.onAny((_name: string, payload: SessionEvent) => {
      stalledEvents.push(payload);
      if (payload.type === "session:block:delta" && ++deltasSeen === 20) tcpOf(stalled).pause();
    });

    let maxQueued = 0;
    let droppedWhileStreaming = false;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, queuedBytes());
    }, 5);
    serverSide.on("disconnect", () => {
      droppedWhileStreaming = !reader.events.some((e) => e.type === "session:turn:completed");
    });
    await rest.send(sessionId, "Stream a flood");
    await reader.waitForTurns(1, 60_000);
    clearInterval(sampler);
    const data = await rest.session(sessionId);

    const withStalled = lags();
    const maxDelta = Math.max(
      ...reader.events.filter((e) => e.type === "session:block:delta").map((e) => JSON.stringify(e).length),
    );
    const figures = {
      traced: withStalled.length,
      baselineP50: percentile(baseline, 50),
      baselineP95: percentile(baseline, 95),
      lagP50: percentile(withStalled, 50),
      lagP95: percentile(withStalled, 95),
      lagMax: percentile(withStalled, 100),
      maxQueued,
      stalledReceived: stalledEvents.length,
      serverReason,
    };
    console.info("slow consumer", figures);
    // The reader got every delta, as soon after the model wrote it as without a stalled peer.
    expect(baseline.length).toBe(CHUNKS);
    expect(withStalled.length).toBe(CHUNKS);
    // The typical delta arrives as soon as without a stalled peer; the tail wobbles on a busy 2-core machine
    // (p95 up to ~3× its baseline was seen in full runs), while a reader held up by the stalled one lags by seconds.
    expect(figures.lagP50).toBeLessThan(Math.max(2 * figures.baselineP50, figures.baselineP50 + 20));
    expect(figures.lagP95).toBeLessThan(Math.max(3 * figures.baselineP95, figures.baselineP95 + 150));

    // The stalled client was dropped during the stream, its queue never far past the bound.
    expect(droppedWhileStreaming).toBe(true);
    expect(serverReason).toBe("forced close");
    expect(namespace.sockets.has(serverSide.id)).toBe(false);
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(BUFFER_BOUND + maxDelta);
    expect(namespace.adapter.rooms.get(roomFor(sessionId))?.size).toBe(1);

    // Reading again, the client finds its connection gone and resumes from the last seq it saw.
    tcpOf(stalled).resume();
    await until(() => stalledDisconnect !== undefined);
    stalled.close();
    const lastSeen = stalledEvents.at(-1)?.seq ?? 0;
    expect(lastSeen).toBeGreaterThan(0);
    expect(lastSeen).toBeLessThan(data.lastSeq);
    const replica = new BlockReplica();
    for (const event of stalledEvents) replica.apply(event);
    const resumed = await connect(server.url);
    const after: SessionEvent[] = [];
    resumed.onAny((_name: string, payload: SessionEvent) => {
      after.push(payload);
      replica.apply(payload);
    });
    const ack = (await resumed
      .timeout(10_000)
      .emitWithAck("session:join", { sessionId, afterSeq: lastSeen })) as JoinAck;
    expect(ack).toMatchObject({ ok: true, snapshot: false, replayed: data.lastSeq - lastSeen });
    await until(() => (after.at(-1)?.seq ?? 0) >= data.lastSeq);
    resumed.close();
    reader.close();
    expect([...stalledEvents, ...after]).toEqual(reader.events);
    expect(replica.mainBlocks()).toEqual(data.blocks);
    const story = data.blocks.at(-1);
    expect(story?.type === "assistant_text" && story.content.length).toBe(FLOOD_TEXT.length);
  });
});
