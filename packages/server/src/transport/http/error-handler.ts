import {
  type ErrorCode,
  type ErrorResponse,
  errorCodes,
  httpStatusForErrorCode,
} from "@agent-runtime/protocol";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { RuntimeError } from "../../errors.js";
import type { HttpApp } from "./http-app.js";

/** Sends `{error: {code, message, requestId}}` with the code's status. The one place errors become HTTP. */
export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  details?: unknown,
): FastifyReply {
  const body: ErrorResponse = {
    error: { code, message, requestId: request.id, ...(details === undefined ? {} : { details }) },
  };
  return reply.status(httpStatusForErrorCode(code)).type("application/json").send(body);
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "VALIDATION_FAILED",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION_FAILED",
  FST_ERR_VALIDATION: "VALIDATION_FAILED",
};

/** Maps every error to the JSON error shape; never leaks a stack trace. */
export function installErrorHandlers(app: HttpApp): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (RuntimeError.is(error)) {
      if (httpStatusForErrorCode(error.code) >= 500) request.log.error({ err: error }, error.message);
      return sendError(reply, request, error.code, error.message);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const details = error.validation.map((issue) => ({
        path: issue.instancePath || "/",
        message: issue.message,
      }));
      const summary = details.map((d) => `${d.path}: ${d.message}`).join("; ");
      return sendError(reply, request, "VALIDATION_FAILED", `Invalid request: ${summary}`, details);
    }
    const mapped = error.code ? fastifyCodes[error.code] : undefined;
    if (mapped) return sendError(reply, request, mapped, error.message);
    if (error instanceof SyntaxError) return sendError(reply, request, "INVALID_JSON", "Malformed JSON body");
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      const code = (Object.keys(errorCodes) as ErrorCode[]).find((c) => errorCodes[c] === error.statusCode);
      return sendError(reply, request, code ?? "VALIDATION_FAILED", error.message);
    }
    request.log.error({ err: error }, "unhandled error");
    return sendError(reply, request, "INTERNAL", "Internal server error");
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, "NOT_FOUND", `No route for ${request.method} ${request.url.split("?")[0]}`),
  );
}
