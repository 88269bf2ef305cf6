import { EventEmitter } from "node:events";
import type { Socket } from "socket.io";
import { describe, expect, it } from "vitest";
import { FakeConnection } from "./__fixtures__/fake-connection.js";
import { OutgoingQueue } from "./outgoing-queue.js";

function queueOn(conn: FakeConnection, now?: () => number) {
  return new OutgoingQueue(conn as unknown as Socket["conn"], now);
}

describe("OutgoingQueue", () => {
  it("counts the batch being written and what waits behind it", () => {
    const conn = new FakeConnection();
    const queue = queueOn(conn);
    conn.send("a".repeat(10));
    expect([queue.queuedBytes, queue.pendingBytes]).toEqual([0, 10]);
    conn.send("b".repeat(20));
    conn.send("c".repeat(30));
    expect([queue.queuedBytes, queue.pendingBytes]).toEqual([50, 60]);
    conn.written();
    expect([queue.queuedBytes, queue.pendingBytes]).toEqual([0, 50]);
    conn.written();
    expect(queue.pendingBytes).toBe(0);
  });

  it("resolves whenIdle once everything is written, false when the connection closes or the wait is aborted", async () => {
    const conn = new FakeConnection();
    const queue = queueOn(conn);
    expect(await queue.whenIdle()).toBe(true);
    conn.send("a");
    conn.send("b");
    let idle: boolean | undefined;
    void queue.whenIdle().then((value) => {
      idle = value;
    });
    conn.written();
    await Promise.resolve();
    await Promise.resolve();
    expect(idle).toBeUndefined();
    conn.written();
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(true);

    conn.send("c");
    const aborted = new AbortController();
    const waiting = queue.whenIdle(aborted.signal);
    aborted.abort();
    expect(await waiting).toBe(false);
    const closing = queue.whenIdle();
    conn.emit("close");
    expect(await closing).toBe(false);
    expect(await queue.whenIdle()).toBe(false);
  });

  it("tells how long the transport has been writing its current batch", () => {
    let now = 1_000;
    const conn = new FakeConnection();
    const queue = queueOn(conn, () => now);
    expect(queue.writingForMs()).toBe(0);
    conn.send("a");
    now += 700;
    conn.send("b");
    expect(queue.writingForMs()).toBe(700);
    conn.written();
    now += 50;
    expect(queue.writingForMs()).toBe(50);
    conn.written();
    expect(queue.writingForMs()).toBe(0);
  });

  it("follows an upgrade to a new transport", () => {
    const conn = new FakeConnection();
    const queue = queueOn(conn);
    conn.send("a".repeat(10));
    const old = conn.transport;
    conn.transport = new EventEmitter();
    conn.emit("upgrade", conn.transport);
    expect(queue.pendingBytes).toBe(0);
    conn.writable = true;
    conn.send("b".repeat(5));
    old.emit("drain");
    expect(queue.pendingBytes).toBe(5);
    conn.written();
    expect(queue.pendingBytes).toBe(0);
  });
});
