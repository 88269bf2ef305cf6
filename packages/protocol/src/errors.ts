import { z } from "zod";

/**
 * Stable error codes and their HTTP status (`httpStatusForErrorCode`);
 * clients branch on the code, never on the message.
 */
export const errorCodes = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  SUBAGENT_NOT_FOUND: 404,
  PERMISSION_REQUEST_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  SESSION_BUSY: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_ARCHITECTURE: 400,
  INVALID_PATH: 400,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SANDBOX_FAILED: 502,
  AGENT_FAILED: 502,
  /**
   * The sandbox broke the runner protocol past its limits (a line over the
   * size limit, a flood of log or invalid lines) and the agent was stopped.
   */
  RUNNER_PROTOCOL: 502,
  PERSISTENCE_FAILED: 503,
  /** The sandbox hit a resource limit (memory, processes) and the agent was stopped. */
  RESOURCE_LIMIT: 503,
  SHUTTING_DOWN: 503,
  /**
   * The server stopped (a crash, a kill) while a turn ran; the turn was
   * closed when the session was loaded again.
   */
  SERVER_RESTARTED: 503,
  /**
   * Workspace files over the per-file or per-workspace storage quota: they
   * stay in the sandbox but are not stored, so they do not survive its teardown.
   */
  STORAGE_QUOTA: 507,
  UNSUPPORTED: 501,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export const errorCodeSchema = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]);

export function httpStatusForErrorCode(code: ErrorCode): number {
  return errorCodes[code];
}

/**
 * The body of every error response: `{error: {code, message, requestId}}`.
 * Servers send an `ErrorCode`; `code` is any string on the wire so a client
 * accepts codes added after its protocol version.
 */
export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    details: z.unknown().optional(),
  }),
});

export type ErrorResponse = z.infer<typeof errorResponseSchema>;
