import { z } from "zod";

/**
 * The cassette format: what record mode writes and replay mode serves. A
 * cassette is one JSON file, `{version: 1, entries: [...]}`, with the
 * entries in the order their requests arrived. It never holds request
 * headers, and secrets seen in request headers are redacted from
 * everything it does hold.
 */

export const CASSETTE_VERSION = 1;

/**
 * The request as replay mode matches it. `body` is normalised: for model
 * calls (`/v1/messages`, `/v1/messages/count_tokens`, `/v1/chat/completions`)
 * `{system, tools, messages}` (OpenAI: `{tools, messages}`) with `<system-reminder>` sections,
 * cache hints, signatures and other volatile parts removed; for other routes
 * the JSON body as sent (or its text, or null without a body).
 */
export const cassetteRequestSchema = z.strictObject({
  method: z.string().min(1),
  /** The URL path with its query string, as the client sent it. */
  path: z.string().startsWith("/"),
  /** The `model` of the body, when it names one. */
  model: z.string().optional(),
  /** Whether a model call asked for a streamed answer (absent for other routes). */
  stream: z.boolean().optional(),
  body: z.json(),
});
export type CassetteRequest = z.infer<typeof cassetteRequestSchema>;
/** A JSON value as cassettes store it. */
export type JsonValue = CassetteRequest["body"];

/** One server-sent event; `atMs` is its arrival time after the response headers. */
export const sseEventSchema = z.strictObject({
  atMs: z.number().nonnegative(),
  event: z.string().optional(),
  /** The `data` field as sent (lines joined by `\n`); usually one JSON document, or `[DONE]`. */
  data: z.string(),
});
export type SseEvent = z.infer<typeof sseEventSchema>;

export const responseBodySchema = z.discriminatedUnion("type", [
  /** A text body (JSON, plain text), stored as received. */
  z.strictObject({ type: z.literal("text"), text: z.string() }),
  /** A body that is not UTF-8 text. */
  z.strictObject({ type: z.literal("base64"), data: z.base64() }),
  /** A `text/event-stream` body, event by event. */
  z.strictObject({ type: z.literal("sse"), events: z.array(sseEventSchema) }),
]);
export type ResponseBody = z.infer<typeof responseBodySchema>;

export const cassetteResponseSchema = z.strictObject({
  status: z.number().int().min(100).max(599),
  contentType: z.string().optional(),
  /** Time from forwarding the request to the response headers. */
  latencyMs: z.number().nonnegative(),
  body: responseBodySchema,
});
export type CassetteResponse = z.infer<typeof cassetteResponseSchema>;

export const cassetteEntrySchema = z.strictObject({
  request: cassetteRequestSchema,
  response: cassetteResponseSchema,
});
export type CassetteEntry = z.infer<typeof cassetteEntrySchema>;

export const cassetteSchema = z.strictObject({
  version: z.literal(CASSETTE_VERSION),
  entries: z.array(cassetteEntrySchema),
});
export type Cassette = z.infer<typeof cassetteSchema>;
