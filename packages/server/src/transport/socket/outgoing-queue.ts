import type { Socket } from "socket.io";

type Connection = Socket["conn"];
type Transport = Connection["transport"];

/**
 * What one socket has to send and its connection has not written yet, in
 * bytes: the batch the transport is writing and the packets queued behind
 * it (`queuedBytes`), kept current from engine.io's events. Everything sent
 * to the socket passes through it, live events and replay pages alike:
 * `queuedBytes` is what the slow-consumer bound is checked against,
 * `whenIdle` paces replays, and `writingForMs` tells a client that reads
 * nothing at all. Sizes are approximate (characters of text frames).
 */
export class OutgoingQueue {
  private queued = 0;
  private writing = 0;
  private writingSince: number | undefined;
  private closed = false;
  private readonly idleWaiters = new Set<(open: boolean) => void>();

  /** `now`: monotonic milliseconds. */
  constructor(
    private readonly conn: Connection,
    private readonly now: () => number = () => performance.now(),
  ) {
    conn.on("packetCreate", (packet: { data?: unknown }) => {
      this.queued += packetBytes(packet.data);
    });
    // A flush hands the whole queue to the transport as one batch.
    conn.on("flush", () => {
      this.writing += this.queued;
      this.queued = 0;
      this.writingSince ??= this.now();
    });
    this.watch(conn.transport);
    conn.on("upgrade", (transport: Transport) => {
      // The old transport is discarded with whatever it was writing.
      this.writing = 0;
      this.writingSince = undefined;
      this.watch(transport);
    });
    conn.once("close", () => {
      this.closed = true;
      this.wake(false);
    });
  }

  get queuedBytes(): number {
    return this.queued;
  }

  /** Everything not written yet: the batch being written and what waits behind it. */
  get pendingBytes(): number {
    return this.queued + this.writing;
  }

  /** How long the transport has been writing its current batch (0 when it is not writing). */
  writingForMs(): number {
    return this.writingSince === undefined ? 0 : this.now() - this.writingSince;
  }

  /**
   * Resolves true once nothing is pending (at once when nothing is; else on
   * a later turn of the event loop than the write that emptied the queue),
   * false when the connection closes first or `signal` aborts.
   */
  whenIdle(signal?: AbortSignal): Promise<boolean> {
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    if (this.pendingBytes === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (open: boolean) => {
        this.idleWaiters.delete(done);
        signal?.removeEventListener("abort", onAbort);
        resolve(open);
      };
      const onAbort = () => done(false);
      this.idleWaiters.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private watch(transport: Transport): void {
    transport.on("drain", () => {
      if (transport !== this.conn.transport) return;
      // Its batch is written; a queued batch follows in the same tick (engine.io flushes on the transport's "ready").
      this.writing = 0;
      this.writingSince = undefined;
      if (this.idleWaiters.size === 0) return;
      // Waiters resume on a later turn of the event loop: a fast reader's writes complete at once, and a
      // replay waking from them within the same tick would hold the loop until its last page.
      setImmediate(() => {
        if (this.pendingBytes === 0 && !this.closed) this.wake(true);
      });
    });
  }

  private wake(open: boolean): void {
    for (const waiter of [...this.idleWaiters]) waiter(open);
  }
}

function packetBytes(data: unknown): number {
  if (typeof data === "string") return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/**
 * Closes a socket's connection without waiting for its queue to drain (a
 * graceful close would wait for a reader that never comes), and tears down
 * the underlying WebSocket so the bytes it still holds are released now
 * rather than after the close handshake times out.
 */
export function dropConnection(socket: Socket): void {
  const transport = socket.conn.transport as { socket?: { terminate?: () => void } };
  socket.conn.close(true);
  transport.socket?.terminate?.();
}
