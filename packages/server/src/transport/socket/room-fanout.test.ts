import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { SessionEvent } from "@agent-runtime/protocol";
import { Server, type Socket as ServerSocket } from "socket.io";
import { io, type Socket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { joinDeliveryRoom, RoomFanout } from "./room-fanout.js";

const ROOM = "session:s";
const delta = (seq: number): SessionEvent =>
  ({
    type: "session:block:delta",
    sessionId: "s",
    seq,
    timestamp: "",
    blockId: "b",
    delta: `${seq}`,
  }) as SessionEvent;

/** A socket.io server with `RoomFanout`, and clients that record the seqs they get (single or batched). */
async function setup() {
  const http = createServer();
  const server = new Server(http);
  const serverSockets: ServerSocket[] = [];
  server.on("connection", (socket) => {
    joinDeliveryRoom(socket);
    serverSockets.push(socket);
  });
  const sent: string[] = [];
  const fanout = new RoomFanout(server, (room) => sent.push(room));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clients: Socket[] = [];
  const connect = async (batchEvents: boolean) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, auth: { batchEvents } });
    const seqs: number[] = [];
    const frames: string[] = [];
    socket.onAny((name: string, payload: { seq?: number; events?: { seq: number }[] }) => {
      frames.push(name);
      if (payload.events) seqs.push(...payload.events.map((event) => event.seq));
      else if (payload.seq !== undefined) seqs.push(payload.seq);
    });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    clients.push(socket);
    return { socket, seqs, frames, server: serverSockets.find((s) => s.id === socket.id)! };
  };
  const close = async () => {
    for (const client of clients) client.close();
    fanout.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { fanout, connect, sent, close };
}

/** Waits until `seqs` holds `count` seqs, then a little longer for any that should not come. */
async function received(seqs: number[], count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (seqs.length < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe("RoomFanout", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("sends one event alone, and several of one turn of the loop as one batch to batching sockets only", async () => {
    const context = await setup();
    close = context.close;
    const batching = await context.connect(true);
    const single = await context.connect(false);
    for (const client of [batching, single]) client.server.join(ROOM);
    context.fanout.publish(ROOM, delta(1));
    await received(batching.seqs, 1);
    for (const seq of [2, 3, 4]) context.fanout.publish(ROOM, delta(seq));
    await received(batching.seqs, 4);
    expect(batching.frames).toEqual(["session:block:delta", "session:events"]);
    expect(single.frames).toEqual(Array(4).fill("session:block:delta"));
    expect(batching.seqs).toEqual([1, 2, 3, 4]);
    expect(single.seqs).toEqual([1, 2, 3, 4]);
    expect(context.sent).toEqual([ROOM, ROOM]);
  });

  it("sends each event to the sockets of its room when it was published, as an immediate emit would", async () => {
    const context = await setup();
    close = context.close;
    const stays = await context.connect(true);
    const leaves = await context.connect(true);
    const joins = await context.connect(true);
    stays.server.join(ROOM);
    leaves.server.join(ROOM);
    context.fanout.publish(ROOM, delta(1));
    context.fanout.publish(ROOM, delta(2));
    // A socket that joins now has events 1 and 2 from its replay; one that leaves still gets them.
    joins.server.join(ROOM);
    leaves.server.leave(ROOM);
    context.fanout.publish(ROOM, delta(3));
    context.fanout.publish(ROOM, delta(4));
    await received(stays.seqs, 4);
    expect(stays.seqs).toEqual([1, 2, 3, 4]);
    expect(leaves.seqs).toEqual([1, 2]);
    expect(joins.seqs).toEqual([3, 4]);
  });
});
