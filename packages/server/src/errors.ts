import type { ErrorCode } from "@agent-runtime/protocol";

/**
 * The one error class of the runtime. `code` is stable and maps to an HTTP
 * status in the transports (`httpStatusForErrorCode`); `message` is for
 * humans and must never contain secrets.
 */
export class RuntimeError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RuntimeError";
    this.code = code;
    this.details = options?.details;
  }

  static is(value: unknown): value is RuntimeError {
    return value instanceof RuntimeError;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
