import type { PromptImage } from "../script/conversation.js";

/** One request as the server saw it. Model fields are empty for routes that are not model calls. */
export interface RecordedRequest {
  /** Sequence number, unique per server, starting at 1. */
  id: number;
  /** Arrival time (before the body was parsed), see `preciseNow`. */
  timestamp: number;
  method: string;
  /** The URL path with its query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  api: "anthropic" | "openai" | "gemini" | "other";
  model: string | undefined;
  /** All system text (system prompt and system-role messages). */
  system: string;
  /** Names of the tools offered. */
  tools: string[];
  /** The images of the latest user prompt: media type, decoded size and SHA-256. */
  images: PromptImage[];
  /** The request's messages as sent. */
  messages: unknown[];
  stream: boolean;
  maxTokens: number | undefined;
  /**
   * How it was answered: `script`, `demo`, `side` (side request), `fallback`; in record mode `upstream`, in
   * replay mode `cassette`; undefined when no model reply was produced (or no cassette entry matched).
   */
  source: "script" | "demo" | "side" | "fallback" | "upstream" | "cassette" | undefined;
  /**
   * The rule name, side-request kind, or `fallback`; in record mode `cassette #n` (the entry being written), in
   * replay mode `exact #n`, `repeat #n` or `fallback #n` (the entry that answered, see `CassetteMatcher`).
   */
  matched: string | undefined;
}

/** Keeps the latest requests, oldest first, dropping the oldest beyond `limit`. */
export class RequestLog {
  readonly entries: RecordedRequest[] = [];
  #nextId = 1;

  constructor(private readonly limit: number) {}

  /** Assigns the next id, stores the request and returns it. */
  add(request: Omit<RecordedRequest, "id">): RecordedRequest {
    const entry = { id: this.#nextId++, ...request };
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    return entry;
  }

  /** Empties the log in place; ids keep counting. */
  clear(): void {
    this.entries.length = 0;
  }
}
