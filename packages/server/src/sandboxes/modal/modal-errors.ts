import { errorMessage, RuntimeError } from "../../errors.js";

/** gRPC status codes the mapping treats specially (nice-grpc's `ClientError.code`). */
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;

export const MISSING_CREDENTIALS_MESSAGE =
  "Modal credentials are missing: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (create a token at https://modal.com/settings/tokens)";

/**
 * Maps anything the Modal SDK throws to a `SANDBOX_FAILED` RuntimeError whose
 * message names the operation and, for rejected credentials,
 * what to do. RuntimeErrors pass through unchanged. The SDK's message is kept
 * (it never contains the token secret); the original is the `cause`.
 */
export function modalFailure(operation: string, error: unknown): RuntimeError {
  if (RuntimeError.is(error)) return error;
  const code = grpcCode(error);
  let hint = "";
  if (code === GRPC_UNAUTHENTICATED || code === GRPC_PERMISSION_DENIED) {
    hint = "; Modal rejected the credentials: check MODAL_TOKEN_ID and MODAL_TOKEN_SECRET";
  }
  return new RuntimeError("SANDBOX_FAILED", `Modal ${operation} failed: ${errorMessage(error)}${hint}`, {
    cause: error,
  });
}

/**
 * Modal found no sandbox (or App) by that id or name: the SDK's own
 * `NotFoundError` (lookups by name), or a gRPC `NOT_FOUND` status that the
 * SDK passes on as it came (`terminate()`, `wait()`).
 */
export function isModalNotFound(error: unknown): boolean {
  return grpcCode(error) === GRPC_NOT_FOUND || (error instanceof Error && error.name === "NotFoundError");
}

/** Modal refused a sandbox name that a running sandbox of the App holds. */
export function isModalAlreadyExists(error: unknown): boolean {
  return (
    grpcCode(error) === GRPC_ALREADY_EXISTS || (error instanceof Error && error.name === "AlreadyExistsError")
  );
}

function grpcCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "number" ? error.code : undefined;
}
