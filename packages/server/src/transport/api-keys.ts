import { createHash, timingSafeEqual } from "node:crypto";
import { tenantIdSchema } from "@agent-runtime/protocol";
import { z } from "zod";
import type { SessionScope } from "../core/session-scope.js";
import { RuntimeError } from "../errors.js";

/** Longest API key accepted in a configuration. */
const MAX_KEY_LENGTH = 1024;

const keySchema = z.string().min(1).max(MAX_KEY_LENGTH);

/**
 * One accepted API key. A string is an admin key: it reaches every session
 * (those of every tenant and those of none) and may create sessions for any
 * tenant. `{tenant, key}` is a key of that tenant: it reaches that tenant's
 * sessions only, and every session it creates belongs to that tenant.
 */
export const apiKeyEntrySchema = z.union([
  keySchema,
  z.strictObject({ tenant: tenantIdSchema, key: keySchema }),
]);
export type ApiKeyEntry = z.infer<typeof apiKeyEntrySchema>;

/**
 * Who made a request, as the transports resolve its credentials; every
 * credential yields one (an API key yields `admin` or `tenant`, and neither
 * of the narrowing fields). `admin` reaches every tenant; `tenant` reaches
 * `tenantId`'s sessions only. `sessionIds` narrows either to those sessions
 * (see `scopeOf`); `readOnly` allows reads only (REST: `GET` and `HEAD`,
 * anything else is refused `FORBIDDEN`; every socket event is a read).
 */
export type Caller = ({ readonly role: "admin" } | { readonly role: "tenant"; readonly tenantId: string }) & {
  /**
   * Stable id of the credential (a digest of the key, never the key): what
   * per-caller limits count against, and what a key rotation checks.
   */
  readonly keyId: string;
  readonly sessionIds?: readonly string[];
  readonly readOnly?: boolean;
  /** When the credential stops being valid (a token's expiry), in ms since the epoch; absent: never. */
  readonly expiresAt?: number;
};

/** The sessions `caller` reaches (see `SessionScope`); `undefined`: every session. */
export function scopeOf(caller: Caller): SessionScope | undefined {
  const tenantId = callerTenant(caller);
  if (tenantId === undefined && caller.sessionIds === undefined) return undefined;
  return {
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(caller.sessionIds === undefined ? {} : { sessionIds: caller.sessionIds }),
  };
}

/** The caller of a server without keys: an admin, counted by address (see `callerKey`). */
const OPEN_CALLER: Caller = { role: "admin", keyId: "" };

interface KnownKey {
  readonly digest: Buffer;
  readonly caller: Caller;
}

/**
 * The accepted API keys, checked in constant time (every known digest is
 * compared). With no keys configured every caller is accepted as an admin
 * (the embedded default for a local machine). Keys can be replaced while
 * the server runs (`replace`), never turned on or off.
 */
export class ApiKeyChecker {
  private keys: readonly KnownKey[];
  private readonly listeners = new Set<() => void>();

  /** Throws `VALIDATION_FAILED` for an invalid entry or a key given to two callers. Empty strings are skipped. */
  constructor(entries: readonly ApiKeyEntry[]) {
    this.keys = knownKeys(entries);
  }

  get required(): boolean {
    return this.keys.length > 0;
  }

  /**
   * The caller `presented` (a bearer key) identifies; `null` when keys are
   * required and it is none of them.
   */
  resolve(presented: string | undefined): Caller | null {
    if (!this.required) return OPEN_CALLER;
    if (!presented) return null;
    const candidate = digest(presented);
    let match: Caller | null = null;
    for (const known of this.keys) {
      if (timingSafeEqual(known.digest, candidate)) match = known.caller;
    }
    return match;
  }

  /**
   * True while the key `caller` was resolved from is still accepted for the
   * same sessions (a rotation may remove it, or give it to another tenant).
   * Long-lived connections check it after every `replace`.
   */
  stillAccepts(caller: Caller): boolean {
    if (!this.required) return true;
    const now = this.keyCaller(caller.keyId);
    return now !== undefined && callerTenant(now) === callerTenant(caller);
  }

  /** The caller of the key whose id is `keyId` (see `Caller.keyId`), while it is accepted. */
  keyCaller(keyId: string): Caller | undefined {
    return this.keys.find((known) => known.caller.keyId === keyId)?.caller;
  }

  /**
   * Replaces every key at once (a rotation), then calls the `onReplace`
   * listeners. Throws `VALIDATION_FAILED`, keeping the keys it has, for an
   * invalid list, and for one that would turn authentication off (no keys)
   * or on (keys on a server started without).
   */
  replace(entries: readonly ApiKeyEntry[]): void {
    const keys = knownKeys(entries);
    if (keys.length === 0 && this.required)
      throw new RuntimeError(
        "VALIDATION_FAILED",
        "The new key list is empty: keys cannot be turned off while the server runs",
      );
    if (keys.length > 0 && !this.required)
      throw new RuntimeError(
        "VALIDATION_FAILED",
        "This server was started without keys: keys cannot be turned on while it runs",
      );
    this.keys = keys;
    for (const listener of this.listeners) listener();
  }

  /** Calls `listener` after every `replace`; returns its removal. */
  onReplace(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Whom a rate limit counts a request or a socket against: the credential of
 * the caller it resolved to, when there is one (so clients behind one
 * address do not starve each other; a token counts with the key that
 * minted it), else its address (so guessing keys is limited too, and a
 * server without keys counts by address). Holds a digest, never a key.
 */
export function callerKey(caller: Caller | null, address: string): string {
  return caller?.keyId ? `key:${caller.keyId}` : `ip:${address}`;
}

/** The key of an `Authorization: Bearer <key>` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/**
 * Entries of a `--api-keys` list: comma-separated `KEY` (an admin key) or
 * `TENANT:KEY` (a key of that tenant; split at the first `:`, so a key may
 * hold `:` but an admin key given this way may not). Blank entries are
 * skipped. Throws `VALIDATION_FAILED` for an invalid tenant id.
 */
export function parseApiKeyList(text: string): ApiKeyEntry[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry, index) => {
      const colon = entry.indexOf(":");
      if (colon < 0) return entry;
      const tenant = entry.slice(0, colon);
      if (!tenantIdSchema.safeParse(tenant).success) {
        throw new RuntimeError(
          "VALIDATION_FAILED",
          `API key entry ${index + 1}: the tenant before ":" must be 1 to 64 letters, digits, '.', '_' or '-'`,
        );
      }
      return { tenant, key: entry.slice(colon + 1) };
    });
}

function knownKeys(entries: readonly ApiKeyEntry[]): KnownKey[] {
  const byDigest = new Map<string, KnownKey>();
  for (const [index, entry] of entries.entries()) {
    if (entry === "") continue;
    // The message names the entry's position and never echoes the key.
    const valid = apiKeyEntrySchema.safeParse(entry);
    if (!valid.success) throw invalidEntry(index);
    const { key, tenant } =
      typeof valid.data === "string" ? { key: valid.data, tenant: undefined } : valid.data;
    const keyDigest = digest(key);
    const keyId = keyDigest.toString("base64url");
    const caller: Caller =
      tenant === undefined ? { role: "admin", keyId } : { role: "tenant", tenantId: tenant, keyId };
    const earlier = byDigest.get(keyId);
    if (earlier && callerTenant(earlier.caller) !== tenant) {
      throw new RuntimeError(
        "VALIDATION_FAILED",
        `API key entry ${index + 1}: the same key is given to two callers (an admin and a tenant, or two tenants)`,
      );
    }
    byDigest.set(keyId, { digest: keyDigest, caller });
  }
  return [...byDigest.values()];
}

function invalidEntry(index: number): RuntimeError {
  return new RuntimeError(
    "VALIDATION_FAILED",
    `API key entry ${index + 1}: expected a key (1 to ${MAX_KEY_LENGTH} characters) or {tenant, key} with a tenant id of 1 to 64 letters, digits, '.', '_' or '-'`,
  );
}

/** The tenant whose sessions `caller` reaches; `undefined` for an admin. */
export function callerTenant(caller: Caller): string | undefined {
  return caller.role === "tenant" ? caller.tenantId : undefined;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
