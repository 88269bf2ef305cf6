import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { preciseNow } from "../http/clock.js";
import { answerModelCall, type RouteContext } from "../http/route-context.js";
import { SseStream } from "../http/sse-stream.js";
import { chunkText } from "../script/response.js";
import { geminiConversationParts, geminiRequestSchema } from "./request.js";
import { geminiChunk, geminiPart } from "./response-body.js";

/** `<model>:<method>` of a Gemini model call's path. */
const MODEL_METHOD = /^([^/:]+):(generateContent|streamGenerateContent)$/;

/**
 * Registers the Gemini API's model calls (what Gemini CLI speaks):
 * `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` (each text or
 * thought chunk one event, each function call whole in one, the last event
 * with `finishReason` and `usageMetadata`) and `…:generateContent` (one
 * response with every part).
 */
export function registerGeminiRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post("/v1beta/models/*", async (request, reply) => {
    const target = (request.params as { "*": string })["*"];
    const method = MODEL_METHOD.exec(target);
    if (!method) return sendGeminiError(reply, 404, `Unknown model method ${target}`);
    const [, model, kind] = method as unknown as [string, string, string];
    const parsed = geminiRequestSchema.safeParse(request.body);
    if (!parsed.success) return sendGeminiError(reply, 400, z.prettifyError(parsed.error));
    const stream = kind === "streamGenerateContent";
    const { answer, entry } = answerModelCall(
      context,
      request,
      "gemini",
      geminiConversationParts(model, parsed.data),
      { messages: parsed.data.contents, stream },
    );
    const { response } = answer;
    if (!stream) return reply.send(geminiChunk(model, response.blocks.map(geminiPart), response));

    reply.hijack();
    const sse = new SseStream(reply.raw, response, context.held);
    for (const block of response.blocks) {
      const pieces =
        block.type === "tool_use"
          ? [""]
          : chunkText(block.type === "text" ? block.text : block.thinking, response.chunkSize);
      for (const piece of pieces) {
        await sse.pace();
        if (sse.closed) return;
        const part =
          block.type === "text"
            ? { text: piece }
            : block.type === "thinking"
              ? { text: piece, thought: true }
              : geminiPart(block);
        sse.send(geminiChunk(model, [part]));
        context.hooks.onChunk?.({
          requestId: entry.id,
          timestamp: preciseNow(),
          blockType: block.type,
          text: block.type === "tool_use" ? JSON.stringify(block.input) : piece,
        });
      }
    }
    sse.send(geminiChunk(model, [], response));
    sse.end();
  });
}

/** Google's error body: `{error: {code, message, status}}`. */
function sendGeminiError(reply: import("fastify").FastifyReply, code: number, message: string) {
  const status = code === 404 ? "NOT_FOUND" : "INVALID_ARGUMENT";
  return reply.status(code).send({ error: { code, message, status } });
}
