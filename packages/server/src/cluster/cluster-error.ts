import { httpStatusForErrorCode } from "@agent-runtime/protocol";
import { RuntimeError } from "../errors.js";

const marker = Symbol.for("@agent-runtime/server.ClusterError");

/** The error codes of cluster mode (each in the protocol's error table with its HTTP status). */
export type ClusterErrorCode =
  | "LEASE_LOST"
  | "NODE_UNAVAILABLE"
  | "NODE_TIMEOUT"
  | "EVENT_SEQ_CONFLICT"
  | "EVENT_TOO_LARGE";

/**
 * Failures of cluster mode: a `RuntimeError` with one of the cluster's codes,
 * so the transports answer it like any other (`LEASE_LOST` 409,
 * `NODE_UNAVAILABLE` 503, `NODE_TIMEOUT` 504, `EVENT_SEQ_CONFLICT` 409,
 * `EVENT_TOO_LARGE` 413). Clients retry 503 and 504: by then the session may
 * have a new owner.
 */
export class ClusterError extends RuntimeError {
  readonly [marker] = true;
  declare readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(code, message, options);
    this.name = "ClusterError";
  }

  /** The HTTP status a transport answers for this error. */
  get status(): number {
    return httpStatusForErrorCode(this.code);
  }

  /** True for instances of this class, also across duplicated copies of the package; with `code`, only for that code. */
  static override is(value: unknown, code?: ClusterErrorCode): value is ClusterError {
    return (
      typeof value === "object" &&
      value !== null &&
      (value as Record<symbol, unknown>)[marker] === true &&
      (code === undefined || (value as ClusterError).code === code)
    );
  }
}
