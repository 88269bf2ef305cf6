const marker = Symbol.for("@agent-runtime/server.ClusterError");

/**
 * Failures of the cluster building blocks, with the HTTP status each will
 * answer. These codes are proposed for the protocol's `errorCodes`; once
 * they are there, `ClusterError` becomes a `RuntimeError` with the same codes
 * and the transports map them in `transport/error-reply.ts` like any other.
 */
export const clusterErrorCodes = {
  /**
   * The session's lease is held under another fencing token (another node
   * claimed it, or it was released): the write was refused, nothing changed.
   */
  LEASE_LOST: 409,
  /** The node owning the session is not registered, refused the connection, or dropped it. */
  NODE_UNAVAILABLE: 503,
  /** The node owning the session did not answer within the forwarding timeout. */
  NODE_TIMEOUT: 504,
  /**
   * The shared event stream refused an event: its `seq` does not follow the
   * stream's last one (a gap or a duplicate).
   */
  EVENT_SEQ_CONFLICT: 409,
  /** An event larger than the shared event stream takes. */
  EVENT_TOO_LARGE: 413,
} as const;

export type ClusterErrorCode = keyof typeof clusterErrorCodes;

export class ClusterError extends Error {
  readonly [marker] = true;
  readonly code: ClusterErrorCode;
  readonly details?: unknown;

  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ClusterError";
    this.code = code;
    this.details = options?.details;
  }

  /** The HTTP status a transport answers for this error. */
  get status(): number {
    return clusterErrorCodes[this.code];
  }

  /** True for instances of this class, also across duplicated copies of the package; with `code`, only for that code. */
  static is(value: unknown, code?: ClusterErrorCode): value is ClusterError {
    return (
      typeof value === "object" &&
      value !== null &&
      (value as Record<symbol, unknown>)[marker] === true &&
      (code === undefined || (value as ClusterError).code === code)
    );
  }
}
