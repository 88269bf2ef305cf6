import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { sendOpenAiError } from "../http/api-errors.js";
import { answerModelCall, type RouteContext } from "../http/route-context.js";
import { SseStream } from "../http/sse-stream.js";
import { openAiCompletion } from "./completion-body.js";
import { chatRequestSchema, openAiConversationParts } from "./request.js";
import { streamOpenAiCompletion } from "./stream.js";

/** Registers `POST /v1/chat/completions` (streaming and not). */
export function registerOpenAiRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    const parsed = chatRequestSchema.safeParse(request.body);
    if (!parsed.success) return sendOpenAiError(reply, 400, z.prettifyError(parsed.error), "invalid_request");
    const body = parsed.data;
    const { answer, entry } = answerModelCall(context, request, "openai", openAiConversationParts(body), {
      messages: body.messages,
      stream: body.stream === true,
    });
    const completionId = `chatcmpl-mock-${randomUUID().replaceAll("-", "")}`;
    if (!body.stream) return reply.send(openAiCompletion(completionId, body.model, answer.response));

    reply.hijack();
    const sse = new SseStream(reply.raw, answer.response, context.held);
    await streamOpenAiCompletion(sse, answer.response, {
      completionId,
      model: body.model,
      includeUsage: body.stream_options?.include_usage === true,
      requestId: entry.id,
      onChunk: context.hooks.onChunk,
    });
    sse.end();
  });
}
