import type { ErrorCode } from "@agent-runtime/protocol";

const marker = Symbol.for("@agent-runtime/server.RuntimeError");

/**
 * The one error class of the runtime. `code` is stable and maps to an HTTP
 * status and a socket error in one place (`transport/error-reply.ts`);
 * `message` is for humans and must never contain secrets.
 */
export class RuntimeError extends Error {
  readonly [marker] = true;
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RuntimeError";
    this.code = code;
    this.details = options?.details;
  }

  /** True for instances of this class, also across duplicated copies of the package. */
  static is(value: unknown): value is RuntimeError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
