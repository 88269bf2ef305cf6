import { createHash, randomBytes, randomUUID } from "node:crypto";
import { MAX_TOKEN_SESSION_IDS, type MintTokenRequest, tenantIdSchema } from "@agent-runtime/protocol";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import { z } from "zod";
import { RuntimeError } from "../errors.js";
import type { Caller } from "./api-keys.js";

/** Issuer and audience of the tokens this server mints. */
const ISSUER = "agent-runtime";
const AUDIENCE = "agent-runtime";
/** Asymmetric algorithms accepted for tokens an application signs itself. */
const APPLICATION_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

/** How browser tokens are signed and checked. */
export interface TokenOptions {
  /**
   * HS256 secret of the tokens the server mints (at least 32 bytes). Every
   * node of a cluster needs the same. @default a random secret per process:
   * tokens end with it
   */
  readonly secret?: string;
  /** A token lives at most this long, whatever a mint asks. @default 86400 */
  readonly maxTtlSeconds?: number;
  /** A mint that names no lifetime gets this. @default 3600 */
  readonly defaultTtlSeconds?: number;
  /**
   * Tokens an application signs itself with its own asymmetric key: its
   * JWKS (`{keys: [...]}`) or the URL serving it. Their `iss` and `aud`
   * must be `issuer` and `audience` when set.
   */
  readonly application?: {
    readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
    readonly jwksUrl?: string;
    readonly issuer?: string;
    readonly audience?: string;
  };
}

/** The claims a token carries beyond the registered ones (the same for tokens applications sign). */
const claimsSchema = z.object({
  tenant: tenantIdSchema.optional(),
  sessionIds: z.array(z.string().min(1).max(200)).max(MAX_TOKEN_SESSION_IDS).optional(),
  readOnly: z.boolean().optional(),
});

/**
 * Mints and verifies short-lived signed tokens (JWT) that browsers use
 * instead of API keys: each is scoped to a tenant (or, minted by an admin
 * key without one, to every tenant), optionally to session ids and to reads,
 * and expires. A verified token is a `Caller` like a key's, with the key
 * that minted it as its `keyId` (so per-caller limits count them together)
 * and its expiry in `expiresAt`.
 */
export class TokenAuthority {
  private readonly secret: Uint8Array;
  private readonly maxTtlSeconds: number;
  private readonly defaultTtlSeconds: number;
  private readonly applicationKeys: JWTVerifyGetKey | undefined;

  constructor(private readonly options: TokenOptions = {}) {
    if (options.secret !== undefined && Buffer.byteLength(options.secret) < 32) {
      throw new RuntimeError("VALIDATION_FAILED", "The token secret must be at least 32 bytes");
    }
    this.secret = options.secret === undefined ? randomBytes(32) : new TextEncoder().encode(options.secret);
    this.maxTtlSeconds = options.maxTtlSeconds ?? 86_400;
    this.defaultTtlSeconds = Math.min(options.defaultTtlSeconds ?? 3600, this.maxTtlSeconds);
    const app = options.application;
    this.applicationKeys = app?.jwks
      ? createLocalJWKSet(app.jwks as Parameters<typeof createLocalJWKSet>[0])
      : app?.jwksUrl
        ? createRemoteJWKSet(new URL(app.jwksUrl))
        : undefined;
  }

  /**
   * A token for `request`, on behalf of `minter`. Throws `FORBIDDEN` when a
   * tenant's key (or token) asks for another tenant or for more than it
   * has, `VALIDATION_FAILED` for a lifetime over the maximum.
   */
  async mint(minter: Caller, request: MintTokenRequest): Promise<{ token: string; expiresAt: string }> {
    const ttl = request.ttlSeconds ?? this.defaultTtlSeconds;
    if (ttl > this.maxTtlSeconds) {
      throw new RuntimeError("VALIDATION_FAILED", `ttlSeconds: at most ${this.maxTtlSeconds}`);
    }
    const own = minter.role === "tenant" ? minter.tenantId : undefined;
    if (own !== undefined && request.tenant !== undefined && request.tenant !== own) {
      throw new RuntimeError("FORBIDDEN", "A tenant's key mints tokens for its own tenant only");
    }
    if (
      minter.sessionIds &&
      (!request.sessionIds || request.sessionIds.some((id) => !minter.sessionIds?.includes(id)))
    ) {
      throw new RuntimeError("FORBIDDEN", "A token reaches no session its minter does not reach");
    }
    if (minter.readOnly && request.readOnly !== true) {
      throw new RuntimeError("FORBIDDEN", "A read-only caller mints read-only tokens only");
    }
    const now = Math.floor(Date.now() / 1000);
    const expires = Math.min(
      now + ttl,
      minter.expiresAt === undefined ? Number.POSITIVE_INFINITY : Math.floor(minter.expiresAt / 1000),
    );
    const tenant = own ?? request.tenant;
    const token = await new SignJWT({
      ...(tenant === undefined ? {} : { tenant }),
      ...(request.sessionIds ? { sessionIds: request.sessionIds } : {}),
      ...(request.readOnly ? { readOnly: true } : {}),
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(minter.keyId)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(expires)
      .sign(this.secret);
    return { token, expiresAt: new Date(expires * 1000).toISOString() };
  }

  /**
   * What a presented token proves: the caller it identifies, or why it is
   * refused: `expired` (a valid signature past its `exp`), `invalid` (not a
   * token of this server or of the configured application keys: bad
   * signature, another secret, not yet valid, wrong issuer or audience,
   * unknown claims' types). Never throws.
   */
  async verify(token: string): Promise<TokenVerdict> {
    if (!looksLikeJwt(token)) return INVALID;
    try {
      const { alg } = decodeProtectedHeader(token);
      if (alg === "HS256") {
        const { payload } = await jwtVerify(token, this.secret, {
          algorithms: ["HS256"],
          issuer: ISSUER,
          audience: AUDIENCE,
        });
        return verdictOf(payload, payload.sub ?? "");
      }
      if (!this.applicationKeys || !alg || !APPLICATION_ALGORITHMS.includes(alg)) return INVALID;
      const app = this.options.application;
      const { payload } = await jwtVerify(token, this.applicationKeys, {
        algorithms: APPLICATION_ALGORITHMS,
        ...(app?.issuer ? { issuer: app.issuer } : {}),
        ...(app?.audience ? { audience: app.audience } : {}),
      });
      return verdictOf(
        payload,
        `${APPLICATION_KEY_PREFIX}${digest(`${payload.iss ?? ""}\0${payload.sub ?? ""}`)}`,
      );
    } catch (error) {
      // jose checks the signature before the claims: an expired token is one of ours.
      return error instanceof errors.JWTExpired ? { ok: false, reason: "expired" } : INVALID;
    }
  }
}

/** What `TokenAuthority.verify` found. */
export type TokenVerdict =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly reason: "expired" | "invalid" };

const INVALID: TokenVerdict = { ok: false, reason: "invalid" };

/**
 * How the `keyId` of a caller from an application's token starts (an API
 * key's id is base64url, without `:`): such a caller was minted by no key.
 */
export const APPLICATION_KEY_PREFIX = "app:";

/** A JWT in compact form: three base64url parts. */
export function looksLikeJwt(token: string): boolean {
  return token.length < 16_384 && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function verdictOf(payload: JWTPayload, keyId: string): TokenVerdict {
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success || payload.exp === undefined) return INVALID;
  const { tenant, sessionIds, readOnly } = claims.data;
  const caller: Caller = {
    ...(tenant === undefined ? { role: "admin" as const } : { role: "tenant" as const, tenantId: tenant }),
    keyId,
    ...(sessionIds ? { sessionIds } : {}),
    ...(readOnly ? { readOnly: true } : {}),
    expiresAt: payload.exp * 1000,
  };
  return { ok: true, caller };
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}
