import { RuntimeError } from "../errors.js";

/** Thrown by built-in adapters when a write targets a session that was never created (or was deleted). */
export function sessionNotFoundError(sessionId: string): RuntimeError {
  return new RuntimeError("SESSION_NOT_FOUND", `session "${sessionId}" does not exist`);
}

/** Thrown by built-in adapters when `createSession` meets a different record under an existing id. */
export function conflictingSessionError(sessionId: string): RuntimeError {
  return new RuntimeError("CONFLICT", `session "${sessionId}" already exists with a different record`);
}
