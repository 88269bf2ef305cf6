import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/** How a stream's chunks are paced (see `ModelResponse`). */
export interface StreamPacing {
  readonly chunkDelayMs: number;
  readonly stallAfterChunks?: number | undefined;
}

/**
 * A server-sent-events response written straight to the socket. Once the
 * client disconnects, `closed` turns true and writes are dropped, so a
 * paced stream stops early instead of writing into a dead socket.
 */
export class SseStream {
  #closed = false;
  #paced = 0;

  /** `held`: where a stalled stream is registered while it hangs, so the server can end it when it closes. */
  constructor(
    private readonly raw: ServerResponse,
    private readonly pacing: StreamPacing,
    private readonly held: Set<ServerResponse>,
  ) {
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    raw.flushHeaders();
    raw.on("close", () => {
      this.#closed = true;
    });
  }

  get closed(): boolean {
    return this.#closed || this.raw.destroyed;
  }

  /** Writes one event: `event: NAME` (when given) and `data: JSON`. */
  send(data: unknown, event?: string): void {
    if (this.closed) return;
    this.raw.write(
      `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`,
    );
  }

  /**
   * Called before each chunk: waits the per-chunk delay (at once when there
   * is none). Before chunk number `stallAfterChunks` (counted from 0) it
   * stalls instead: nothing more is sent and it resolves only once the
   * client has left or the server closes, with `closed` true.
   */
  async pace(): Promise<void> {
    if (this.#paced++ === this.pacing.stallAfterChunks) {
      await this.#hang();
      return;
    }
    if (this.pacing.chunkDelayMs > 0 && !this.closed) await sleep(this.pacing.chunkDelayMs);
  }

  async #hang(): Promise<void> {
    if (this.closed) return;
    this.held.add(this.raw);
    await new Promise((resolve) => this.raw.once("close", resolve));
    this.held.delete(this.raw);
  }

  end(): void {
    if (!this.raw.writableEnded) this.raw.end();
  }
}
