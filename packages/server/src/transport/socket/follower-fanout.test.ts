import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { SessionEvent } from "@agent-runtime/protocol";
import { Server, type Socket as ServerSocket } from "socket.io";
import { io, type Socket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { FollowerFanout } from "./follower-fanout.js";
import { joinDeliveryRoom } from "./room-fanout.js";

const delta = (seq: number): SessionEvent =>
  ({
    type: "session:block:delta",
    sessionId: "s",
    seq,
    timestamp: "",
    blockId: "b",
    delta: `${seq}`,
  }) as SessionEvent;

/** A socket.io server with `FollowerFanout` counting encoded packets, and clients recording the seqs they get. */
async function setup() {
  const http = createServer();
  const server = new Server(http);
  const serverSockets: ServerSocket[] = [];
  server.on("connection", (socket) => {
    joinDeliveryRoom(socket);
    serverSockets.push(socket);
  });
  let encoded = 0;
  const encode = server.encoder.encode.bind(server.encoder);
  server.encoder.encode = (packet) => {
    if (Array.isArray(packet.data)) encoded += 1;
    return encode(packet);
  };
  const sent: string[] = [];
  const fanout = new FollowerFanout(server, (socketId, sessionId) => sent.push(`${socketId} ${sessionId}`));
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
    return { id: socket.id!, seqs, frames };
  };
  const close = async () => {
    for (const client of clients) client.close();
    fanout.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { fanout, connect, sent, close, encoded: () => encoded };
}

/** Waits until `seqs` holds `count` seqs, then a little longer for any that should not come. */
async function received(seqs: number[], count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (seqs.length < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe("FollowerFanout", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("encodes an event once for all the sockets it was sent to, several as one batch", async () => {
    const context = await setup();
    close = context.close;
    const followers = [
      await context.connect(true),
      await context.connect(true),
      await context.connect(false),
    ];
    const before = context.encoded();
    for (const seq of [1, 2, 3])
      for (const follower of followers) context.fanout.send(follower.id, delta(seq));
    for (const follower of followers) await received(follower.seqs, 3);
    // One batch for the sockets taking batches, and each event once for the other.
    expect(context.encoded() - before).toBe(4);
    expect(followers[0]!.frames).toEqual(["session:events"]);
    expect(followers[2]!.frames).toEqual(Array(3).fill("session:block:delta"));
    for (const follower of followers) expect(follower.seqs).toEqual([1, 2, 3]);
    expect(context.sent.sort()).toEqual(followers.map((follower) => `${follower.id} s`).sort());
  });

  it("keeps each socket's seq order when sockets catching up queue events in another order", async () => {
    const context = await setup();
    close = context.close;
    const ahead = await context.connect(false);
    const behind = await context.connect(false);
    // `ahead` is sent 4 before `behind`, catching up, is sent 3 and then 4.
    context.fanout.send(ahead.id, delta(4));
    context.fanout.send(behind.id, delta(3));
    context.fanout.send(behind.id, delta(4));
    context.fanout.send(ahead.id, delta(5));
    await received(behind.seqs, 2);
    expect(ahead.seqs).toEqual([4, 5]);
    expect(behind.seqs).toEqual([3, 4]);
  });
});
