import type { FastifyReply } from "fastify";

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  529: "overloaded_error",
};

/** Anthropic's error body: `{type: "error", error: {type, message}}`. */
export function sendAnthropicError(reply: FastifyReply, status: number, message: string): FastifyReply {
  const type = ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  return reply.status(status).send({ type: "error", error: { type, message } });
}

/** OpenAI's error body: `{error: {message, type, param, code}}`. */
export function sendOpenAiError(
  reply: FastifyReply,
  status: number,
  message: string,
  code?: string,
): FastifyReply {
  const type = status >= 500 ? "server_error" : "invalid_request_error";
  return reply.status(status).send({ error: { message, type, param: null, code: code ?? null } });
}

/** Picks the error shape by route: OpenAI's for `/v1/chat/completions` and `/v1/responses`, Anthropic's for everything else. */
export function sendApiError(
  reply: FastifyReply,
  url: string,
  status: number,
  message: string,
): FastifyReply {
  if (url.startsWith("/v1/chat/completions") || url.startsWith("/v1/responses"))
    return sendOpenAiError(reply, status, message);
  return sendAnthropicError(reply, status, message);
}
