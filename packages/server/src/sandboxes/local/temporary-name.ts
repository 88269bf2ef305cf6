import { randomUUID } from "node:crypto";

/**
 * A fresh name for a file written next to its destination and then renamed
 * over it. Its length (41 bytes) does not depend on the destination's name,
 * so it fits in every folder the destination fits in, even when that name is
 * 255 bytes long (Linux's NAME_MAX).
 */
export function temporaryName(): string {
  return `.${randomUUID()}.tmp`;
}
