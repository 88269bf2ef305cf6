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

/**
 * Whom a rate limit counts a request or a socket against: its API key when it
 * presents a valid one (so clients behind one address do not starve each
 * other), else its address (so guessing keys is limited too). Holds a digest
 * of the key, never the key.
 */
export function callerKey(apiKeys: ApiKeyChecker, token: string | undefined, address: string): string {
  if (apiKeys.required && token && apiKeys.accepts(token)) {
    return `key:${createHash("sha256").update(token).digest("base64url")}`;
  }
  return `ip:${address}`;
}

/** The key of an `Authorization: Bearer <key>` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
