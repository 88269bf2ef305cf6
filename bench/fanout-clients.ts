/*
 * Socket clients of the fan-out bench (`socket-fanout.ts`), in their own
 * process: FANOUT_CLIENTS socket.io clients (WebSocket only) join
 * FANOUT_SESSION on FANOUT_URL (taking `session:events` batches when
 * FANOUT_BATCH is 1) and record, for each text delta, how long
 * after its due time (encoded in its text, see `fanout-server.ts`) it
 * arrived. IPC: `{ready}` once all have joined; on `"report"`, `{latencies}`
 * (per client, per delta index, ms; null for a delta that never arrived; the two processes' clocks may differ by a fraction of a millisecond, so a latency may be slightly negative).
 */
import { performance } from "node:perf_hooks";
import type { JoinAck } from "@agent-runtime/protocol";
import { io } from "socket.io-client";

const url = process.env.FANOUT_URL!;
const sessionId = process.env.FANOUT_SESSION!;
const count = Number(process.env.FANOUT_CLIENTS);
const deltas = Number(process.env.FANOUT_DELTAS);
const now = () => performance.timeOrigin + performance.now();

const latencies = Array.from({ length: count }, () => new Float64Array(deltas).fill(Number.NaN));
const sockets = await Promise.all(
  latencies.map(async (mine) => {
    const socket = io(url, {
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      auth: { batchEvents: process.env.FANOUT_BATCH === "1" },
    });
    const onDelta = (event: { delta: string }) => {
      const at = now();
      for (const part of event.delta.split(";")) {
        const [index, due] = part.split("@");
        if (due !== undefined) mine[Number(index)] = at - Number(due);
      }
    };
    socket.on("session:block:delta", onDelta);
    // Clients that take batches (`session:events`) get the same deltas inside them.
    socket.on("session:events", (batch: { events: { type: string; delta?: string }[] }) => {
      for (const event of batch.events)
        if (event.type === "session:block:delta") onDelta(event as { delta: string });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    const ack = (await socket.timeout(60_000).emitWithAck("session:join", { sessionId })) as JoinAck;
    if (!ack.ok) throw new Error(`join failed: ${ack.error.message}`);
    return socket;
  }),
);
process.send?.({ ready: true });
process.on("message", (message) => {
  if (message !== "report") return;
  process.send?.({ latencies: latencies.map((values) => [...values]) }, () => {
    for (const socket of sockets) socket.close();
    process.exit(0);
  });
});
