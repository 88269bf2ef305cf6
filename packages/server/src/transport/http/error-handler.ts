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
  app.setErrorHandler((error: unknown, request, reply) => {
    const mapped = errorReply(error, request.id);
    if (mapped.status >= 500) request.log.error({ err: error }, "request failed");
    return send(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, "NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}`),
  );
}

function send(reply: FastifyReply, { status, body }: ErrorReply): FastifyReply {
  return reply.status(status).type("application/json").send(body);
}
