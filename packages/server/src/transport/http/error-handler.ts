import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { ErrorCode } from "@agent-runtime/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorReply, errorReply, errorReplyFor } from "../error-reply.js";

/** Sends `{error: {code, message, requestId}}` with the code's status. */
export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  details?: unknown,
): FastifyReply {
  return send(reply, errorReplyFor(code, message, { requestId: request.id, details }));
}

/** Maps every error through `errorReply`; logs those answered with a 5xx status. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => replyWithError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      request,
      "NOT_FOUND",
      `No route for ${request.method} ${request.originalUrl.split("?")[0]}`,
    ),
  );
}

/** Answers `error` through `errorReply`, logging it when the status is 5xx. */
function replyWithError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = errorReply(error, request.id);
  if (mapped.status >= 500) request.log.error({ err: error }, "request failed");
  return send(reply, mapped);
}

/**
 * Fastify's `frameworkErrors`: the router's refusals before any route (a
 * path segment over `maxParamLength`, a path that is not valid
 * percent-encoding) as `{error: {code, message, requestId}}`, with a fixed
 * message that does not echo the path.
 */
export function replyToFrameworkError(
  error: Error & { code?: string },
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH")
    return sendError(reply, request, "URI_TOO_LONG", "A path segment is longer than the server accepts");
  if (error.code === "FST_ERR_BAD_URL")
    return sendError(reply, request, "MALFORMED_REQUEST", "The path is not valid percent-encoding");
  return replyWithError(error, request, reply);
}

/** Sends the error; `details.retryAfter` (seconds, e.g. of `QUOTA_EXCEEDED`) also becomes `Retry-After`. */
function send(reply: FastifyReply, { status, body }: ErrorReply): FastifyReply {
  const { details } = body.error;
  const retryAfter =
    typeof details === "object" && details !== null
      ? (details as { retryAfter?: unknown }).retryAfter
      : undefined;
  if (typeof retryAfter === "number") reply.header("retry-after", String(retryAfter));
  return reply.status(status).type("application/json").send(body);
}

/**
 * Fastify's `clientErrorHandler`: bytes the HTTP parser refuses before there
 * is a request (an oversized header, a bad request line or chunk, a request
 * that did not arrive in time) get the same `{error: {code, message,
 * requestId}}` as every other error, then the connection is closed.
 */
export function replyToClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const { status, body } =
    error.code === "HPE_HEADER_OVERFLOW"
      ? errorReplyFor("HEADERS_TOO_LARGE", "The request line and headers are too large", {
          requestId: randomUUID(),
        })
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? errorReplyFor("REQUEST_TIMEOUT", "The request did not arrive in time", { requestId: randomUUID() })
        : errorReplyFor("MALFORMED_REQUEST", "Malformed HTTP request", { requestId: randomUUID() });
  if (socket.writable) {
    const text = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}
