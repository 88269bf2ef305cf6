import type { SseEvent } from "./schema.js";

/**
 * Splits a `text/event-stream` body into events as its bytes arrive. Each
 * event gets the time of the chunk that completed it. Comments and `id:` /
 * `retry:` fields are dropped; events without `data` are dropped.
 */
export class SseEventParser {
  readonly events: SseEvent[] = [];
  readonly #decoder = new TextDecoder();
  #buffer = "";

  /** Feeds the next chunk, received `atMs` after the response headers. */
  push(chunk: Uint8Array, atMs: number): void {
    this.#buffer += this.#decoder.decode(chunk, { stream: true });
    this.#drain(atMs, false);
  }

  /** Ends the stream: a last event without its blank line still counts. */
  finish(atMs: number): SseEvent[] {
    this.#buffer += this.#decoder.decode();
    this.#drain(atMs, true);
    return this.events;
  }

  #drain(atMs: number, final: boolean): void {
    const blocks = this.#buffer.split(/\r\n\r\n|\n\n|\r\r/);
    this.#buffer = final ? "" : (blocks.pop() ?? "");
    for (const block of blocks) {
      const event = parseBlock(block, atMs);
      if (event) this.events.push(event);
    }
  }
}

function parseBlock(block: string, atMs: number): SseEvent | undefined {
  let name: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  return {
    atMs: Math.round(atMs * 10) / 10,
    ...(name !== undefined ? { event: name } : {}),
    data: data.join("\n"),
  };
}

/** The wire form of an event: `event: NAME` (when it has one), a `data:` line per data line, a blank line. */
export function formatSseEvent(event: SseEvent): string {
  const lines = event.data.split("\n").map((line) => `data: ${line}`);
  return `${event.event !== undefined ? `event: ${event.event}\n` : ""}${lines.join("\n")}\n\n`;
}
