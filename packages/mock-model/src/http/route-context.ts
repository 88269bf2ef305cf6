import type { ServerResponse } from "node:http";
import type { FastifyRequest } from "fastify";
import { type ConversationParts, describeConversation } from "../script/conversation.js";
import type { Answer, Responder } from "../script/responder.js";
import { preciseNow } from "./clock.js";
import type { MockModelHooks } from "./hooks.js";
import type { RecordedRequest, RequestLog } from "./request-log.js";

/** Where the server reports what it does. Each method receives one line of text. */
export interface MockModelLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** What the route plugins share. */
export interface RouteContext {
  responder: Responder;
  log: RequestLog;
  hooks: MockModelHooks;
  logger: MockModelLogger;
  arrivals: WeakMap<FastifyRequest, number>;
  /** Streams stalled by their script (`stallAfterChunks`), ended when the server closes. */
  held: Set<ServerResponse>;
}

/** What a route adds to the request log besides what every request has. */
export type RecordFields = Omit<RecordedRequest, "id" | "timestamp" | "method" | "path">;

/** Stores the request in the log (with its arrival time) and notifies `onRequest`. */
export function recordRequest(
  context: RouteContext,
  request: FastifyRequest,
  fields: RecordFields,
): RecordedRequest {
  const entry = context.log.add({
    timestamp: context.arrivals.get(request) ?? preciseNow(),
    method: request.method,
    path: request.url,
    ...fields,
  });
  context.hooks.onRequest?.(entry);
  if (fields.matched !== undefined) {
    context.logger.info(
      `${request.method} ${request.url} model=${fields.model} → ${fields.matched} [${fields.source}]`,
    );
  }
  return entry;
}

/**
 * Answers a model call from the script and records it (notifying
 * `onRequest`) before anything is written back, so the log entry exists by
 * the time the first byte of the answer arrives.
 */
export function answerModelCall(
  context: RouteContext,
  request: FastifyRequest,
  api: "anthropic" | "openai" | "gemini",
  parts: ConversationParts,
  call: { messages: unknown[]; stream: boolean },
): { answer: Answer; entry: RecordedRequest } {
  const conversation = describeConversation(parts);
  const answer = context.responder(conversation);
  const entry = recordRequest(context, request, {
    api,
    model: parts.model,
    system: conversation.system,
    tools: conversation.tools,
    images: conversation.promptImages,
    messages: call.messages,
    stream: call.stream,
    maxTokens: conversation.maxTokens,
    source: answer.source,
    matched: answer.matched,
  });
  return { answer, entry };
}

/** Fields for a request that is not a model call. */
export const NO_MODEL_CALL = {
  model: undefined,
  system: "",
  tools: [],
  images: [],
  messages: [],
  stream: false,
  maxTokens: undefined,
  source: undefined,
  matched: undefined,
} satisfies Omit<RecordFields, "api">;
