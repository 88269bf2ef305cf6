import { RuntimeError } from "../errors.js";
import type { SessionListPosition } from "./persistence-adapter.js";

/** Longest `updatedAt` or `sessionId` a cursor may carry. */
const MAX_FIELD_LENGTH = 200;

/** The opaque cursor clients pass back for the page after `position` (base64url text). */
export function encodeSessionListCursor(position: SessionListPosition): string {
  return Buffer.from(JSON.stringify([position.updatedAt, position.sessionId])).toString("base64url");
}

/** The position an `encodeSessionListCursor` cursor names. Throws `VALIDATION_FAILED` for anything else. */
export function decodeSessionListCursor(cursor: string): SessionListPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    value.every(
      // No control character (PostgreSQL's text cannot hold a NUL): a forged cursor is the client's mistake.
      (field) => typeof field === "string" && field.length <= MAX_FIELD_LENGTH && /^\P{Cc}+$/u.test(field),
    )
  ) {
    const [updatedAt, sessionId] = value as [string, string];
    return { updatedAt, sessionId };
  }
  throw new RuntimeError("VALIDATION_FAILED", "Invalid cursor: pass the nextCursor of a previous page");
}
