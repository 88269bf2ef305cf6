import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { sendAnthropicError } from "../http/api-errors.js";
import { answerModelCall, type RouteContext, recordRequest } from "../http/route-context.js";
import { SseStream } from "../http/sse-stream.js";
import { describeConversation } from "../script/conversation.js";
import { anthropicMessage } from "./message-body.js";
import { anthropicConversationParts, messagesRequestSchema } from "./request.js";
import { streamAnthropicMessage } from "./stream.js";

/** Registers `POST /v1/messages` (streaming and not) and `POST /v1/messages/count_tokens`. */
export function registerAnthropicRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post("/v1/messages", async (request, reply) => {
    const parsed = messagesRequestSchema.safeParse(request.body);
    if (!parsed.success) return sendAnthropicError(reply, 400, z.prettifyError(parsed.error));
    const body = parsed.data;
    if (body.max_tokens === undefined) return sendAnthropicError(reply, 400, "max_tokens: Field required");
    if (body.messages.length === 0)
      return sendAnthropicError(reply, 400, "messages: at least one message is required");

    const { answer, entry } = answerModelCall(
      context,
      request,
      "anthropic",
      anthropicConversationParts(body),
      {
        messages: body.messages,
        stream: body.stream === true,
      },
    );
    const messageId = `msg_mock_${randomUUID().replaceAll("-", "")}`;
    if (!body.stream) return reply.send(anthropicMessage(messageId, body.model, answer.response));

    reply.hijack();
    const sse = new SseStream(reply.raw, answer.response, context.held);
    await streamAnthropicMessage(sse, answer.response, {
      messageId,
      model: body.model,
      requestId: entry.id,
      onChunk: context.hooks.onChunk,
    });
    sse.end();
  });

  app.post("/v1/messages/count_tokens", async (request, reply) => {
    const parsed = messagesRequestSchema.safeParse(request.body);
    if (!parsed.success) return sendAnthropicError(reply, 400, z.prettifyError(parsed.error));
    const conversation = describeConversation(anthropicConversationParts(parsed.data));
    recordRequest(context, request, {
      api: "anthropic",
      model: parsed.data.model,
      system: conversation.system,
      tools: conversation.tools,
      images: conversation.promptImages,
      messages: parsed.data.messages,
      stream: false,
      maxTokens: undefined,
      source: undefined,
      matched: undefined,
    });
    return reply.send({ input_tokens: Math.max(1, Math.ceil(conversation.inputChars / 4)) });
  });
}
