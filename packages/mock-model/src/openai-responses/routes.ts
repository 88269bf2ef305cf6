import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { sendOpenAiError } from "../http/api-errors.js";
import { answerModelCall, type RouteContext } from "../http/route-context.js";
import { SseStream } from "../http/sse-stream.js";
import { customToolNames, responsesConversationParts, responsesRequestSchema } from "./request.js";
import { responseObject } from "./response-body.js";
import { streamResponses } from "./stream.js";

/** Registers `POST /v1/responses` (OpenAI's Responses API, streaming and not), the API Codex speaks. */
export function registerOpenAiResponsesRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post("/v1/responses", async (request, reply) => {
    const parsed = responsesRequestSchema.safeParse(request.body);
    if (!parsed.success) return sendOpenAiError(reply, 400, z.prettifyError(parsed.error), "invalid_request");
    const body = parsed.data;
    const { answer, entry } = answerModelCall(context, request, "openai", responsesConversationParts(body), {
      messages: typeof body.input === "string" ? [body.input] : body.input,
      stream: body.stream === true,
    });
    const responseId = `resp_mock${randomUUID().replaceAll("-", "")}`;
    const custom = customToolNames(body);
    if (!body.stream) {
      return reply.send(
        responseObject(responseId, body.model, answer.response, custom, Math.floor(Date.now() / 1000)),
      );
    }
    reply.hijack();
    const sse = new SseStream(reply.raw, answer.response, context.held);
    await streamResponses(sse, answer.response, {
      responseId,
      model: body.model,
      custom,
      requestId: entry.id,
      onChunk: context.hooks.onChunk,
    });
    sse.end();
  });
}
