import type { RecordedRequest } from "./request-log.js";

/** Passed to `onChunk` right after a streamed delta was written to the socket. */
export interface ChunkEvent {
  /** The `id` of the recorded request the chunk belongs to. */
  requestId: number;
  /** When the chunk was written, see `preciseNow`. */
  timestamp: number;
  blockType: "text" | "thinking" | "tool_use";
  /** The delta's text (for `tool_use`, a piece of the input JSON). */
  text: string;
}

/** Observers of the server's traffic; they run synchronously, so they must be cheap and must not throw. */
export interface MockModelHooks {
  /** Called once per request, after it is parsed and before the answer is written. */
  onRequest?: (request: RecordedRequest) => void;
  /** Called after each streamed content delta is written. */
  onChunk?: (chunk: ChunkEvent) => void;
}
