import type { ErrorCode, ErrorResponse, errorCodes } from "@agent-runtime/protocol";

/** The status servers give `UNSUPPORTED` (checked against the protocol's table at compile time). */
const UNSUPPORTED_STATUS: (typeof errorCodes)["UNSUPPORTED"] = 501;

const marker = Symbol.for("@agent-runtime/client.AgentRuntimeError");

/**
 * The one error class the client throws. `code` is the server's stable error
 * code (`SESSION_NOT_FOUND`, `UNAUTHORIZED`, …) or one of the client's own:
 * `NETWORK_ERROR` (no HTTP answer), `INVALID_RESPONSE` (an answer that is not
 * the wire contract), `UNSUPPORTED` (the server has no route for the call).
 * Branch on `code`, never on `message`.
 */
export class AgentRuntimeError extends Error {
  override readonly name = "AgentRuntimeError";
  readonly [marker] = true;
  /** A server `ErrorCode` or a client code (see the class comment). */
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  /** HTTP status of the answer; 0 when there was none. */
  readonly status: number;
  /** The server's request id, when the error came from a response. */
  readonly requestId: string | undefined;
  readonly details: unknown;

  constructor(
    code: AgentRuntimeError["code"],
    message: string,
    options: { status?: number; requestId?: string; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 0;
    this.requestId = options.requestId;
    this.details = options.details;
  }

  /** True for instances of this class, also across duplicated copies of the package. */
  static is(value: unknown): value is AgentRuntimeError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }

  /** Builds the error for a non-2xx response from its body (`{error: {code, message, requestId}}`). */
  static fromResponse(status: number, body: unknown): AgentRuntimeError {
    if (!isErrorResponse(body)) {
      return new AgentRuntimeError("INVALID_RESPONSE", `HTTP ${status} without an error body`, {
        status,
        details: body,
      });
    }
    const { code, message, requestId, details } = body.error;
    return new AgentRuntimeError(code, message, { status, details, ...(requestId ? { requestId } : {}) });
  }

  /** A typed "this server cannot do that" error, for calls without a route. */
  static unsupported(what: string): AgentRuntimeError {
    return new AgentRuntimeError("UNSUPPORTED", `${what} is not supported by this server`, {
      status: UNSUPPORTED_STATUS,
    });
  }
}

export type ClientErrorCode = "NETWORK_ERROR" | "INVALID_RESPONSE" | "UNSUPPORTED";

/**
 * The wire contract's error body, `{error: {code, message, requestId?, details?}}`,
 * checked by hand so the client carries no schema library.
 */
function isErrorResponse(body: unknown): body is ErrorResponse {
  if (typeof body !== "object" || body === null) return false;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return false;
  const { code, message, requestId } = error as Record<string, unknown>;
  return (
    typeof code === "string" &&
    typeof message === "string" &&
    (requestId === undefined || typeof requestId === "string")
  );
}
