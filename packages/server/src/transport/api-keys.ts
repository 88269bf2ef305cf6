import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks bearer keys in constant time. With no keys configured every caller
 * is accepted (the embedded default for a local machine).
 */
export class ApiKeyChecker {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.filter((key) => key.length > 0).map(digest);
  }

  get required(): boolean {
    return this.digests.length > 0;
  }

  /** True when `presented` is one of the keys (or no key is required). */
  accepts(presented: string | undefined): boolean {
    if (!this.required) return true;
    if (!presented) return false;
    const candidate = digest(presented);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(known, candidate) || match;
    return match;
  }
}

/** The key of an `Authorization: Bearer <key>` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
