import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A server-sent-events response written straight to the socket. Once the
 * client disconnects, `closed` turns true and writes are dropped, so a
 * paced stream stops early instead of writing into a dead socket.
 */
export class SseStream {
  #closed = false;

  constructor(
    private readonly raw: ServerResponse,
    private readonly chunkDelayMs: number,
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

  /** Waits the per-chunk delay; resolves at once when there is none. */
  async pace(): Promise<void> {
    if (this.chunkDelayMs > 0 && !this.closed) await sleep(this.chunkDelayMs);
  }

  end(): void {
    if (!this.raw.writableEnded) this.raw.end();
  }
}
