import {
  type ErrorCode,
  type ErrorResponse,
  errorCodes,
  httpStatusForErrorCode,
} from "@agent-runtime/protocol";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { RuntimeError } from "../errors.js";

/** What a transport answers for a failure: the HTTP status and the `{error: {…}}` body. */
export interface ErrorReply {
  readonly status: number;
  readonly body: ErrorResponse;
}

/** The error of a socket acknowledgement: `{ok: false, error: {code, message}}`. */
export interface ErrorAck {
  readonly ok: false;
  readonly error: ErrorResponse["error"];
}

/** Fastify's own errors, by their `code`. */
const fastifyCodes: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION_FAILED",
  FST_ERR_VALIDATION: "VALIDATION_FAILED",
};

/**
 * Codes whose `RuntimeError.details` are written for clients and sent with
 * the error (`QUOTA_EXCEEDED`: `{quota, limit, retryAfter?}`); other
 * details (stored data's validation issues, internal state) stay in logs.
 */
const CLIENT_DETAIL_CODES: ReadonlySet<ErrorCode> = new Set(["QUOTA_EXCEEDED"]);

/** Validation issues a reply names; the rest are counted. */
const MAX_SHOWN_ISSUES = 5;
/** Longest issue message a reply quotes (an unknown-keys message lists every key). */
const MAX_ISSUE_MESSAGE_LENGTH = 300;

function shortened(message: string): string {
  return message.length > MAX_ISSUE_MESSAGE_LENGTH
    ? `${message.slice(0, MAX_ISSUE_MESSAGE_LENGTH)}…`
    : message;
}

/** The reply for `code`: its status from the protocol's table and `{error: {code, message, requestId?, details?}}`. */
export function errorReplyFor(
  code: ErrorCode,
  message: string,
  options: { requestId?: string; details?: unknown } = {},
): ErrorReply {
  const { requestId, details } = options;
  return {
    status: httpStatusForErrorCode(code),
    body: {
      error: {
        code,
        message,
        ...(requestId === undefined ? {} : { requestId }),
        ...(details === undefined ? {} : { details }),
      },
    },
  };
}

/**
 * The one mapping from any thrown value to what a client is told, for every
 * transport. A `RuntimeError` (recognised by its marker, also from another
 * copy of the package) keeps its code and message; request validation,
 * malformed JSON and fastify's own 4xx errors get their codes; anything else
 * is `INTERNAL` with a fixed message, so no stack, path or driver message
 * ever reaches a client. Callers log the error themselves when `status >= 500`.
 */
export function errorReply(error: unknown, requestId?: string): ErrorReply {
  if (RuntimeError.is(error)) {
    const details = CLIENT_DETAIL_CODES.has(error.code) ? error.details : undefined;
    return errorReplyFor(error.code, error.message, {
      requestId,
      ...(details === undefined ? {} : { details }),
    });
  }
  if (error instanceof Error && hasZodFastifySchemaValidationErrors(error)) {
    const { validationContext } = error as { validationContext?: string };
    const shown = error.validation.slice(0, MAX_SHOWN_ISSUES);
    const details = shown.map((issue) => {
      const below = issue.instancePath === "/" ? "" : issue.instancePath;
      // `body/sessionOptions`, `querystring`, …
      return { path: `${validationContext ?? ""}${below}` || "/", message: shortened(issue.message) };
    });
    const more = error.validation.length - shown.length;
    const summary =
      details.map((d) => `${d.path}: ${d.message}`).join("; ") + (more > 0 ? `; and ${more} more` : "");
    return errorReplyFor("VALIDATION_FAILED", `Invalid request: ${summary}`, { requestId, details });
  }
  if (error instanceof SyntaxError)
    return errorReplyFor("INVALID_JSON", "Malformed JSON body", { requestId });
  if (error instanceof Error) {
    const { code, statusCode } = error as Error & { code?: unknown; statusCode?: unknown };
    const mapped = typeof code === "string" ? fastifyCodes[code] : undefined;
    if (mapped) return errorReplyFor(mapped, error.message, { requestId });
    if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
      const byStatus = (Object.keys(errorCodes) as ErrorCode[]).find((c) => errorCodes[c] === statusCode);
      return errorReplyFor(byStatus ?? "VALIDATION_FAILED", error.message, { requestId });
    }
  }
  return errorReplyFor("INTERNAL", "Internal server error", { requestId });
}

/** `errorReply` as a socket acknowledgement. */
export function errorAck(error: unknown): ErrorAck {
  return { ok: false, error: errorReply(error).body.error };
}
