import { z } from "zod";

/**
 * Stable error codes and their HTTP status (`httpStatusForErrorCode`);
 * clients branch on the code, never on the message.
 */
export const errorCodes = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  /** A JSON body nested deeper than the server accepts; refused before it is parsed. */
  JSON_TOO_DEEP: 400,
  /** Bytes that are not an HTTP request (a bad request line, header or chunk); the connection is closed. */
  MALFORMED_REQUEST: 400,
  UNAUTHORIZED: 401,
  /** The browser token expired: get a new one (`POST /auth/tokens`) and retry, or reconnect with it. */
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  SUBAGENT_NOT_FOUND: 404,
  PERMISSION_REQUEST_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** The request did not arrive within the server's request timeout; the connection is closed. */
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  SESSION_BUSY: 409,
  /**
   * Cluster mode: the node lost the session's ownership (another node
   * claimed its lease): the write was refused and nothing changed.
   */
  LEASE_LOST: 409,
  /** Cluster mode: an event that does not follow the shared stream's last seq (a gap or a duplicate) was refused. */
  EVENT_SEQ_CONFLICT: 409,
  /** Cluster mode: an event larger than the shared event stream takes. */
  EVENT_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  /** A path segment longer than the server's router takes. */
  URI_TOO_LONG: 414,
  /**
   * A file read would answer more bytes than the server's maximum for one
   * response; a `Range` within the maximum still reads the file.
   */
  FILE_TOO_LARGE: 413,
  /** A `Range` that selects no byte of the file (the answer names its size in `Content-Range`). */
  RANGE_NOT_SATISFIABLE: 416,
  /** A request body in a format the route does not take (every JSON route takes `application/json`). */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The request line and headers are larger than the server accepts; the connection is closed. */
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_ARCHITECTURE: 400,
  INVALID_PATH: 400,
  RATE_LIMITED: 429,
  /** The session's queue of waiting messages is at its bound (count or bytes); send again once turns have run. */
  QUEUE_FULL: 429,
  /** The caller (its API key, or its address without keys) holds the most sockets it may; one must close first. */
  TOO_MANY_SOCKETS: 429,
  /**
   * The tenant is at one of its quotas (sessions, running sandboxes, messages
   * per minute, stored bytes); `details` names it. Nothing was created or started.
   */
  QUOTA_EXCEEDED: 429,
  INTERNAL: 500,
  SANDBOX_FAILED: 502,
  AGENT_FAILED: 502,
  /**
   * The sandbox broke the runner protocol past its limits (a line over the
   * size limit, a flood of log or invalid lines) and the agent was stopped.
   */
  RUNNER_PROTOCOL: 502,
  /**
   * The model sent nothing for the stall timeout (its answer stopped
   * mid-stream, or never started): the turn ended with what had arrived.
   */
  MODEL_STALLED: 504,
  /**
   * The profile's dependencies (npm and pip packages, bundled MCP projects)
   * could not be installed; the message ends with the installer's output.
   */
  DEPENDENCIES_FAILED: 502,
  PERSISTENCE_FAILED: 503,
  /** The sandbox hit a resource limit (memory, processes) and the agent was stopped. */
  RESOURCE_LIMIT: 503,
  SHUTTING_DOWN: 503,
  /** `GET /ready`: a dependency of the server (storage, the sandbox provider) is not usable now; `details.checks` says which. */
  NOT_READY: 503,
  /**
   * Cluster mode: the node owning the session cannot be reached (it is
   * draining, stopped or unreachable); retry: within the lease TTL another
   * node takes the session over.
   */
  NODE_UNAVAILABLE: 503,
  /** Cluster mode: the node owning the session did not answer in time; retry. */
  NODE_TIMEOUT: 504,
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
